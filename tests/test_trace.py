"""glassnet.book.trace: one backpropagation step, every number, checked three ways.

1. the primer's hand-worked single chain, every number it prints;
2. every derivative of other shapes (the primer's [2,3,2] demo, random networks) against
   central finite differences, written here from scratch;
3. the ``glassnet trace`` command, called through its argparse parser.
"""

import argparse
import io
import re

import numpy as np
import pytest

from glassnet import Network
from glassnet.book.trace import (
    EXAMPLES,
    Trace,
    build_network,
    float64_copy,
    format_trace,
    primer_demo,
    primer_example,
    trace,
)
from glassnet.errors import GlassnetError, InputError
from glassnet.io import save

# The primer's single chain (seed 000, "Example Calculation"): input 0.8, target 1, w = 1.58 and
# 2.45, b = -0.14 and -0.11, step 0.1. Every number it prints, as it prints it.
PRIMER = {
    "z_l1": "1.124",
    "a_l1": "0.7547299213576082",
    "z_l2": "1.73908830732614",
    "a_l2": "0.850571226530534",
    "dc_db_l2": "-0.018992369482903983",
    "dc_dw_l2": "-0.014334109526226761",
    "dc_da_l1": "-0.04653130523311476",
    "updated_b_l2": "-0.1081007630517096",
    "updated_w_l2": "2.451433410952623",
    "dc_db_l1": "-0.008613534018377424",
    "dc_dw_l1": "-0.006890827214701939",
    "updated_b_l1": "-0.13913864659816227",
    "updated_w_l1": "1.5806890827214704",
    "updated_z_l1": "1.125412619579014",
    "updated_a_l1": "0.7549913210309638",
    "updated_z_l2": "1.7427101863028525",
    "updated_a_l2": "0.8510309824120517",
    "original_cost": "0.011164479170294499",
    "updated_cost": "0.011095884100559231",
}


def primer_values(t):
    """The trace's value for each of the primer's names (weight layer 0 is its L1)."""
    return {
        "z_l1": t.z[0][0],
        "a_l1": t.a[1][0],
        "z_l2": t.z[1][0],
        "a_l2": t.a[2][0],
        "dc_db_l2": t.nabla_b[1][0],
        "dc_dw_l2": t.nabla_w[1][0, 0],
        "dc_da_l1": t.grad_a[0][0],
        "updated_b_l2": t.new_biases[1][0],
        "updated_w_l2": t.new_weights[1][0, 0],
        "dc_db_l1": t.nabla_b[0][0],
        "dc_dw_l1": t.nabla_w[0][0, 0],
        "updated_b_l1": t.new_biases[0][0],
        "updated_w_l1": t.new_weights[0][0, 0],
        "updated_z_l1": t.new_z[0][0],
        "updated_a_l1": t.new_a[1][0],
        "updated_z_l2": t.new_z[1][0],
        "updated_a_l2": t.new_a[2][0],
        "original_cost": t.cost_before,
        "updated_cost": t.cost_after,
    }


@pytest.fixture(scope="module")
def primer():
    return trace(*primer_example())


# -- 1. the primer's worked example ------------------------------------------------------------
def test_the_primer_example_is_the_primers_network():
    net, x, y, eta = primer_example()
    assert net.sizes == [1, 1, 1] and net.dtype == np.float64
    assert [w.tolist() for w in net.weights] == [[[1.58]], [[2.45]]]
    assert [b.tolist() for b in net.biases] == [[-0.14], [-0.11]]
    assert x.tolist() == [0.8] and y.tolist() == [1.0] and eta == 0.1


@pytest.mark.parametrize("name", PRIMER)
def test_every_number_the_primer_prints(primer, name):
    got = primer_values(primer)[name]
    np.testing.assert_array_max_ulp(got, float(PRIMER[name]), maxulp=2)


def test_the_text_prints_the_primers_numbers_digit_for_digit(primer):
    text = format_trace(primer)
    missing = [f"{name} = {value}" for name, value in PRIMER.items() if value not in text]
    assert missing == []
    assert "0.011164479170294499 -> 0.011095884100559231" in text and "lower" in text


def test_each_line_shows_its_equation_and_numbers(primer):
    lines = format_trace(primer).splitlines()

    def line(start):
        found = [ln.strip() for ln in lines if ln.strip().startswith(start)]
        assert found, start
        return found[0]

    assert line("z^1[0]") == "z^1[0] = 1.58*0.8 + (-0.14) = 1.124"
    assert line("a^1[0]") == "a^1[0] = sigma(1.124) = 0.7547299213576082"
    assert line("dC/da^2[0]") == "dC/da^2[0] = 0.850571226530534 - 1.0 = -0.14942877346946604"
    assert line("delta^2[0]").startswith("delta^2[0] = (-0.14942877346946604) * sigma'(1.73908830732614) = ")
    assert line("dC/dw^2[0,0]") == (
        "dC/dw^2[0,0] = (-0.018992369482903983) * 0.7547299213576082 = -0.014334109526226761"
    )
    assert line("dC/da^1[0]") == "dC/da^1[0] = 2.45*(-0.018992369482903983) = -0.04653130523311476"
    assert line("b^2[0]") == "b^2[0] = -0.11 - 0.1 * (-0.018992369482903983) = -0.1081007630517096"
    assert line("w^1[0,0]") == "w^1[0,0] = 1.58 - 0.1 * (-0.006890827214701939) = 1.5806890827214704"
    text = "\n".join(lines)
    for equation in (
        "z^l = w^l a^(l-1) + b^l",
        "BP1  delta^2 = dC/da^2 (.) sigma'(z^2)",
        "BP2  delta^1 = dC/da^1 (.) sigma'(z^1)",
        "BP3  dC/db^1 = delta^1",
        "BP4  dC/dw^1[j,k] = delta^1[j] * a^0[k]",
        "w -> w - eta dC/dw",
    ):
        assert equation in text


@pytest.mark.parametrize("example, lines", [(primer_example, 10), (primer_demo, 40)])
def test_each_printed_line_is_its_own_arithmetic(example, lines):
    """Redo every 'a op b = c' line of the text from the numbers printed in it."""
    checked = 0
    for ln in format_trace(trace(*example())).splitlines():
        left, _, result = ln.strip().rpartition(" = ")
        expr = left.rpartition(" = ")[2]
        if not re.fullmatch(r"[-+*() .e0-9]+", expr) or not re.search(r"\d\s*[-+*]", expr):
            continue  # not arithmetic on printed numbers
        value = eval(expr, {})  # numbers and + - * ( ) only
        np.testing.assert_array_max_ulp(value, float(result), maxulp=4)
        checked += 1
    assert checked >= lines


# -- 2. the trace is the core's backprop, and every derivative is right --------------------------
def random_problem(sizes, seed, **kw):
    net = build_network(sizes, seed=seed, **kw)
    rng = np.random.default_rng(seed + 100)
    y = np.zeros(sizes[-1])
    y[rng.integers(sizes[-1])] = 1.0
    return net, rng.random(sizes[0]), y, 0.5


PROBLEMS = {
    "primer 1-1-1": primer_example,
    "primer demo 2-3-2": primer_demo,
    "random 3-4-2": lambda: random_problem([3, 4, 2], 0),
    "random 4-5-3-2": lambda: random_problem([4, 5, 3, 2], 1),
    "cross-entropy 3-4-2": lambda: random_problem([3, 4, 2], 2, cost="cross-entropy"),
    "softmax 3-4-3": lambda: random_problem([3, 4, 3], 3, cost="log-likelihood"),
    "tanh 3-4-2": lambda: random_problem([3, 4, 2], 4, activation="tanh"),
}


def cost_from(t, start, a):
    """C when layer ``start``'s activation is replaced by ``a``: the rest of the feedforward,
    written out here (the book's way, one layer at a time) with the trace's parameters."""
    acts = {
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "softmax": lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum(),
    }
    L = len(t.weights)
    for i in range(start, L):
        a = acts[t.output_activation if i == L - 1 else t.activation](t.weights[i] @ a + t.biases[i])
    if t.cost == "quadratic":
        return 0.5 * np.sum((a - t.y) ** 2)
    if t.cost == "cross-entropy":
        return -np.sum(t.y * np.log(a) + (1 - t.y) * np.log(1 - a))
    return -np.sum(t.y * np.log(a))


def central(f, v, eps=1e-6):
    """Central differences of f at the array v, entry by entry (v is restored)."""
    grad = np.zeros_like(v)
    for i in np.ndindex(v.shape):
        saved = v[i]
        v[i] = saved + eps
        up = f()
        v[i] = saved - eps
        down = f()
        v[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("name", PROBLEMS)
def test_every_derivative_against_central_differences(name):
    net, x, y, eta = PROBLEMS[name]()
    t = trace(net, x, y, eta)
    for i in range(len(t.weights)):
        w, b = t.weights[i].copy(), t.biases[i].copy()
        t.weights[i], t.biases[i] = w, b  # perturb copies, then put them back
        np.testing.assert_allclose(t.nabla_w[i], central(lambda: cost_from(t, 0, t.x), w), atol=1e-8)
        np.testing.assert_allclose(t.nabla_b[i], central(lambda: cost_from(t, 0, t.x), b), atol=1e-8)
        a = t.a[i + 1].copy()  # dC/da^l: perturb the layer's output
        np.testing.assert_allclose(t.grad_a[i], central(lambda i=i, a=a: cost_from(t, i + 1, a), a), atol=1e-8)
        if t.output_activation != "softmax" or i < len(t.weights) - 1:
            z = t.z[i].copy()  # delta^l = dC/dz^l: perturb z itself
            f = {"sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh}[
                t.output_activation if i == len(t.weights) - 1 else t.activation
            ]
            np.testing.assert_allclose(
                t.delta[i], central(lambda i=i, f=f, z=z: cost_from(t, i + 1, f(z)), z), atol=1e-8
            )


@pytest.mark.parametrize("name", PROBLEMS)
def test_the_trace_is_the_cores_backprop_and_one_sgd_step(name):
    net, x, y, eta = PROBLEMS[name]()
    before = [w.copy() for w in net.weights]
    t = trace(net, x, y, eta)
    assert all(np.array_equal(w, w0) for w, w0 in zip(net.weights, before))  # the network is left alone
    nabla_b, nabla_w = net.backprop(x, y)
    for i in range(len(net.weights)):
        assert np.array_equal(t.nabla_b[i], nabla_b[i]) and np.array_equal(t.nabla_w[i], nabla_w[i])
        assert np.array_equal(t.delta[i], t.nabla_b[i])  # BP3
        np.testing.assert_allclose(t.nabla_w[i], np.outer(t.delta[i], t.a[i]), rtol=1e-15)  # BP4
        if t.prime[i] is not None and not (i == len(t.weights) - 1 and t.cost != "quadratic"):
            assert np.array_equal(t.delta[i], t.grad_a[i] * t.prime[i])  # BP1 / BP2
        np.testing.assert_allclose(t.a[i + 1], net.activations(x[None])[i + 1][0], rtol=1e-15)
        assert np.array_equal(t.new_weights[i], net.weights[i] - eta * t.nabla_w[i])
        assert np.array_equal(t.new_biases[i], net.biases[i] - eta * t.nabla_b[i])
    stepped = float64_copy(net)
    stepped.update_mini_batch((x[None], y[None]), eta)  # the core's own step
    for i in range(len(net.weights)):
        np.testing.assert_allclose(stepped.weights[i], t.new_weights[i], rtol=1e-14, atol=1e-16)
    assert t.cost_after == pytest.approx(stepped.cost(stepped.feedforward(x)[None], y[None]), rel=1e-12)
    assert t.cost_after < t.cost_before  # a small enough step goes downhill


def test_a_float32_network_is_traced_in_float64():
    net32 = Network([3, 4, 2], seed=5)
    t = trace(net32, [0.1, 0.2, 0.3], [0, 1], 0.1)
    assert net32.dtype == np.float32 and all(v.dtype == np.float64 for v in t.z + t.delta + t.nabla_w)
    assert t.weights[0] == pytest.approx(net32.weights[0].astype(np.float64))


def test_bad_inputs_are_refused_with_a_message():
    net, x, y, eta = primer_demo()
    for args, needle in [
        ((net, [0.1], y, eta), "2 numbers"),
        ((net, x, [0, 1, 0], eta), "the target y"),
        ((net, [np.nan, 0], y, eta), "finite"),
        ((net, x, y, 0), "eta"),
        ((net, x, y, -1.0), "eta"),
        ((net, x, y, float("inf")), "eta"),
        ((net, x, y, "1"), "eta"),
    ]:
        with pytest.raises(InputError, match=needle):
            trace(*args)


def test_build_network_from_sizes_or_weights():
    a, b = build_network([3, 4, 2], seed=7), build_network([3, 4, 2], seed=7)
    assert a.dtype == np.float64 and all(np.array_equal(u, v) for u, v in zip(a.weights, b.weights))
    net = build_network(weights=[np.ones((4, 3)), np.ones((2, 4))], biases=[np.zeros(4), np.zeros(2)])
    assert net.sizes == [3, 4, 2]
    with pytest.raises(InputError, match=r"\[3, 5, 2\]"):
        build_network([3, 5, 2], weights=[np.ones((4, 3)), np.ones((2, 4))], biases=[np.zeros(4), np.zeros(2)])
    with pytest.raises(InputError, match="both"):
        build_network(weights=[np.ones((4, 3))])
    with pytest.raises(InputError):
        build_network(weights=[np.ones((4, 3)), np.ones((2, 5))], biases=[np.zeros(4), np.zeros(2)])
    assert set(EXAMPLES) == {"primer", "demo"} and isinstance(trace(*EXAMPLES["demo"]()), Trace)


def test_long_sums_and_big_layers_stay_readable():
    net = build_network([784, 30, 10], seed=0)
    x = np.random.default_rng(0).random(784)
    text = format_trace(trace(net, x, np.eye(10)[3], 3.0), limit=5)
    assert "sum of 784 products" in text and "... 23515 more" in text  # 784 x 30 weights, 5 shown
    assert len(text.splitlines()) < 200 and max(map(len, text.splitlines())) < 300
    full = format_trace(trace(*primer_demo()))
    starts = [ln.strip().split(" ")[0] for ln in full.splitlines()]
    assert "..." not in starts and starts.count("w^1[0,1]") == 1 and starts.count("dC/dw^2[1,2]") == 1
    assert sum(s.startswith("dC/dw^") for s in starts) == 6 + 6  # every gradient of the 2-3-2


# -- 3. the command ----------------------------------------------------------------------------
def command(argv):
    from glassnet.cli import trace as cmd

    parser = argparse.ArgumentParser(prog=f"glassnet {cmd.NAME}")
    cmd.add_arguments(parser)
    args = parser.parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    code = cmd.run(args, out, err)
    return code, out.getvalue(), err.getvalue()


def test_the_command_prints_the_primer_by_default():
    code, out, err = command([])
    assert code == 0 and err == ""
    assert all(value in out for value in PRIMER.values())
    assert command(["--example", "primer"])[1] == out


def test_the_command_takes_the_demo_sizes_a_model_and_overrides(tmp_path):
    code, out, _ = command(["--example", "demo"])
    assert code == 0 and "network 2-3-2" in out and "0.28722913585991233" in out
    code, out, _ = command(
        ["--sizes", "3,4,2", "--seed", "1", "--input", "0.1,0.5,0.9", "--target", "1", "--eta", "0.5"]
    )
    t = trace(build_network([3, 4, 2], seed=1), [0.1, 0.5, 0.9], [0, 1], 0.5)
    assert code == 0 and out == format_trace(t, limit=20)
    net = Network([4, 3, 2], seed=3, cost="cross-entropy")
    path = save(net, tmp_path / "m.npz")
    code, out, _ = command(["--model", str(path), "--input", "1,0,0.5,0.25", "--target", "0.2,0.8"])
    assert code == 0 and "network 4-3-2, cross-entropy cost" in out
    assert out == format_trace(trace(net, [1, 0, 0.5, 0.25], [0.2, 0.8], 0.1), limit=20)
    assert command(["--weights", str(path), "--limit", "0"])[0] == 0
    code, out, _ = command(["--input", "0.5", "--target", "0", "--eta", "1"])  # the primer's net
    assert "x[0] = 0.5" in out and "y[0] = 0.0" in out and "eta = 1.0" in out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--input", "0.8,0.2"], "--input must hold 1 number"),
        (["--example", "demo", "--input", "a,b"], "--input must be numbers"),
        (["--example", "demo", "--target", "2"], "--target label must be 0..1"),
        (["--example", "demo", "--target", "0,1,0"], "--target must hold 2 numbers"),
        (["--input", "nan"], "finite"),
        (["--eta", "0"], "--eta must be a positive number"),
        (["--cost", "cross-entropy"], "--cost applies to a --sizes network only"),
        (["--limit", "-1"], "--limit"),
        (["--model", "missing.npz"], "missing.npz"),
    ],
)
def test_the_command_refuses_bad_input_in_one_line(argv, needle):
    with pytest.raises(GlassnetError, match=needle) as info:
        command(argv)
    assert "\n" not in str(info.value)


def test_the_command_rejects_two_sources_at_once():
    with pytest.raises(SystemExit):
        command(["--example", "demo", "--sizes", "1,1,1"])


def test_a_saved_models_trace_starts_from_a_real_test_digit(tmp_path, mnist):
    """--model: the first image of the model's test set is the input and its label the target."""
    path = save(Network([784, 12, 10], seed=2), tmp_path / "m.npz", metadata={"dataset": "mnist"})
    code, out, _ = command(["--model", str(path), "--limit", "0"])
    x, label = mnist.test.X[0], int(mnist.test.y[0])
    inked = [int(k) for k in np.flatnonzero(x)[:5]]
    assert code == 0 and inked and all(f"x[{k}] = {float(x[k])!r}\n" in out for k in inked)
    assert f"y[{label}] = 1.0" in out and out.count("] = 1.0\n") >= 1
