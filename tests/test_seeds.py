"""Every worked number in the source documents (/work/shared/seeds), recomputed by glassnet.

* the tutorial's 3-3-1 feed-forward (output 0.8354, hidden 0.8909 / 0.9677 / 0.9909,
  all cut to 4 places),
  against a nested-loop feed-forward written here;
* the primer's single-chain example (input 0.8, target 1, w = 1.58 / 2.45,
  b = -0.14 / -0.11, step 0.1): every printed z, a, gradient, updated parameter
  and the cost before and after the step;
* the primer's [2,3,2] demo with its given weights, against a neuron-by-neuron
  chain-rule computation written here;
* the tutorial's gradient descent on x^4 - 3x^3 + 2 (examples/gradient_descent.py).

The reference computations in this file use plain Python floats and ``math``, not
glassnet, so glassnet's NumPy code is checked against an independent calculation.
"""

from __future__ import annotations

import math
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import glassnet
from glassnet import Network

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gradient_descent.py"

REL = 1e-12  # "to ~1e-12 relative": the primer printed float64 values with repr


def logistic(z):
    """sigma(z) = 1 / (1 + e^-z) on a Python float -- the reference for this file."""
    return 1.0 / (1.0 + math.exp(-z))


def logistic_prime(z):
    s = logistic(z)
    return s * (1.0 - s)


def close(actual, expected, rel=REL):
    return float(actual) == pytest.approx(expected, rel=rel, abs=0)


def four_places(v):
    """``v`` cut to 4 decimal places, as the tutorial prints its numbers.

    The tutorial truncates rather than rounds: its 0.9909 is sigma(4.7) = 0.990987...
    and its 0.8354 is 0.835456... (rounding would give 0.9910 and 0.8355).
    """
    return math.floor(float(v) * 1e4 + 1e-9) / 1e4


# ---------------------------------------------------------------------------
# 1. Tutorial: looped vs vectorised feed-forward of a 3-3-1 network
# ---------------------------------------------------------------------------
TUTORIAL_W = [[[0.2, 0.2, 0.2], [0.4, 0.4, 0.4], [0.6, 0.6, 0.6]], [[0.5, 0.5, 0.5]]]
TUTORIAL_B = [[0.8, 0.8, 0.8], [0.2]]
TUTORIAL_X = [1.5, 2.0, 3.0]


def nested_loop_feedforward(x, weights, biases):
    """Feed-forward one node at a time, as the tutorial does before vectorising.

    Returns the activations of every layer after the input, as lists of floats.
    """
    layers = []
    inputs = list(x)
    for w, b in zip(weights, biases):
        outputs = []
        for node in range(len(w)):  # a row of w per receiving node
            total = 0.0
            for k in range(len(w[node])):  # a column per sending node
                total += w[node][k] * inputs[k]
            outputs.append(logistic(total + b[node]))
        layers.append(outputs)
        inputs = outputs
    return layers


def tutorial_network():
    return Network(sizes=[3, 3, 1], weights=[np.array(w) for w in TUTORIAL_W], biases=[np.array(b) for b in TUTORIAL_B])


def test_tutorial_looped_feedforward_gives_the_printed_numbers():
    hidden, output = nested_loop_feedforward(TUTORIAL_X, TUTORIAL_W, TUTORIAL_B)
    assert [four_places(h) for h in hidden] == [0.8909, 0.9677, 0.9909]
    assert four_places(output[0]) == 0.8354
    # the tutorial's check by hand, from the printed (cut) hidden values
    assert four_places(logistic(0.5 * (0.8909 + 0.9677 + 0.9909) + 0.2)) == 0.8354


def test_tutorial_vectorised_feedforward_matches_the_loop_and_the_printed_output():
    net = tutorial_network()
    assert net.dtype == np.float64
    out = net.feedforward(np.array(TUTORIAL_X))
    assert out.shape == (1,)
    assert four_places(out[0]) == 0.8354

    hidden, looped = nested_loop_feedforward(TUTORIAL_X, TUTORIAL_W, TUTORIAL_B)
    assert close(out[0], looped[0])

    # the hidden layer through glassnet: a network made of the first layer only
    first = Network([3, 3], weights=[net.weights[0]], biases=[net.biases[0]])
    h = first.feedforward(np.array(TUTORIAL_X))
    assert [four_places(v) for v in h] == [0.8909, 0.9677, 0.9909]
    for got, want in zip(h, hidden):
        assert close(got, want)


def test_tutorial_feedforward_as_column_and_as_batch():
    net = tutorial_network()
    col = net.feedforward(np.array(TUTORIAL_X).reshape(3, 1))
    assert col.shape == (1, 1)
    batch = net.feedforward(np.array([TUTORIAL_X, TUTORIAL_X]))
    assert batch.shape == (2, 1)
    assert four_places(col[0, 0]) == 0.8354
    np.testing.assert_allclose(batch[:, 0], col[0, 0], rtol=1e-15)


# ---------------------------------------------------------------------------
# 2. Primer: a chain of one neuron per layer, one step of online learning
# ---------------------------------------------------------------------------
PRIMER = {  # every number the primer prints, in the order it prints them
    "z_l1": 1.124,
    "a_l1": 0.7547299213576082,
    "z_l2": 1.73908830732614,
    "a_l2": 0.850571226530534,
    "dc_db_l2": -0.018992369482903983,
    "dc_dw_l2": -0.014334109526226761,
    "dc_da_l1": -0.04653130523311476,
    "updated_b_l2": -0.1081007630517096,
    "updated_w_l2": 2.451433410952623,
    "dc_db_l1": -0.008613534018377424,
    "dc_dw_l1": -0.006890827214701939,
    "updated_b_l1": -0.13913864659816227,
    "updated_w_l1": 1.5806890827214704,
    "updated_z_l1": 1.125412619579014,
    "updated_a_l1": 0.7549913210309638,
    "updated_z_l2": 1.7427101863028525,
    "updated_a_l2": 0.8510309824120517,
    "original_cost": 0.011164479170294499,
    "updated_cost": 0.011095884100559231,
}
X_CHAIN, Y_CHAIN, STEP = np.array([0.8]), np.array([1.0]), 0.1


def chain_network():
    return Network([1, 1, 1], weights=[[[1.58]], [[2.45]]], biases=[[-0.14], [-0.11]])


def chain_forward(net, x):
    """z and a of both layers: z from net.weights/biases, a from glassnet's own layers."""
    (w1,), (w2,) = net.weights[0][0], net.weights[1][0]
    (b1,), (b2,) = net.biases
    z1 = w1 * x[0] + b1
    # the first layer's activation, computed by glassnet: a network of that layer alone
    a1 = Network([1, 1], weights=[net.weights[0]], biases=[net.biases[0]]).feedforward(x)[0]
    z2 = w2 * a1 + b2
    a2 = net.feedforward(x)[0]
    return z1, a1, z2, a2


def test_primer_chain_is_float64_with_the_given_parameters():
    net = chain_network()
    assert net.dtype == np.float64
    assert [w.shape for w in net.weights] == [(1, 1), (1, 1)]
    assert [b.shape for b in net.biases] == [(1,), (1,)]


def test_primer_chain_forward_pass():
    net = chain_network()
    z1, a1, z2, a2 = chain_forward(net, X_CHAIN)
    assert close(z1, PRIMER["z_l1"])
    assert close(a1, PRIMER["a_l1"])
    assert close(z2, PRIMER["z_l2"])
    assert close(a2, PRIMER["a_l2"])
    # and the reference sigmoid agrees with glassnet's on these z
    assert close(a1, logistic(z1)) and close(a2, logistic(z2))


def test_primer_chain_gradients_from_backprop():
    net = chain_network()
    nabla_b, nabla_w = net.backprop(X_CHAIN, Y_CHAIN)
    assert [g.shape for g in nabla_b] == [(1,), (1,)]
    assert [g.shape for g in nabla_w] == [(1, 1), (1, 1)]
    assert close(nabla_b[1][0], PRIMER["dc_db_l2"])
    assert close(nabla_w[1][0, 0], PRIMER["dc_dw_l2"])
    # dC/da^1 = (w^2)^T delta^2, with delta^2 = dC/db^2 for a single example
    dc_da_l1 = net.weights[1].T @ nabla_b[1]
    assert close(dc_da_l1[0], PRIMER["dc_da_l1"])
    assert close(nabla_b[0][0], PRIMER["dc_db_l1"])
    assert close(nabla_w[0][0, 0], PRIMER["dc_dw_l1"])


def test_primer_chain_cost_before_the_step():
    net = chain_network()
    a2 = net.feedforward(X_CHAIN)
    assert close(net.cost(a2, Y_CHAIN), PRIMER["original_cost"])
    assert close(net.total_cost(X_CHAIN.reshape(1, 1), Y_CHAIN.reshape(1, 1)), PRIMER["original_cost"])
    # the cost derivative at the output is a - y (the primer's dc_da_l2)
    assert close(net.cost_derivative(a2, Y_CHAIN)[0], PRIMER["a_l2"] - 1.0)


def test_primer_chain_one_sgd_step_gives_every_updated_number():
    net = chain_network()
    net.SGD([(X_CHAIN, Y_CHAIN)], epochs=1, mini_batch_size=1, eta=STEP, log=None)
    assert len(net.history) == 1

    assert close(net.biases[1][0], PRIMER["updated_b_l2"])
    assert close(net.weights[1][0, 0], PRIMER["updated_w_l2"])
    assert close(net.biases[0][0], PRIMER["updated_b_l1"])
    assert close(net.weights[0][0, 0], PRIMER["updated_w_l1"])

    z1, a1, z2, a2 = chain_forward(net, X_CHAIN)
    assert close(z1, PRIMER["updated_z_l1"])
    assert close(a1, PRIMER["updated_a_l1"])
    assert close(z2, PRIMER["updated_z_l2"])
    assert close(a2, PRIMER["updated_a_l2"])

    updated_cost = net.cost(net.feedforward(X_CHAIN), Y_CHAIN)
    assert close(updated_cost, PRIMER["updated_cost"])
    assert updated_cost < PRIMER["original_cost"]
    # the mean cost over the training set (one example) after the epoch
    assert close(net.total_cost(X_CHAIN.reshape(1, 1), Y_CHAIN.reshape(1, 1)), PRIMER["updated_cost"])


def test_primer_chain_printed_numbers_are_consistent_with_each_other():
    """The primer's own arithmetic, redone here in Python floats (guards the table above)."""
    z1 = 1.58 * 0.8 - 0.14
    a1 = logistic(z1)
    z2 = 2.45 * a1 - 0.11
    a2 = logistic(z2)
    db2 = logistic_prime(z2) * (a2 - 1.0)
    da1 = 2.45 * db2
    db1 = logistic_prime(z1) * da1
    mine = {
        "z_l1": z1,
        "a_l1": a1,
        "z_l2": z2,
        "a_l2": a2,
        "dc_db_l2": db2,
        "dc_dw_l2": a1 * db2,
        "dc_da_l1": da1,
        "dc_db_l1": db1,
        "dc_dw_l1": 0.8 * db1,
        "updated_b_l2": -0.11 - STEP * db2,
        "updated_w_l2": 2.45 - STEP * a1 * db2,
        "updated_b_l1": -0.14 - STEP * db1,
        "updated_w_l1": 1.58 - STEP * 0.8 * db1,
        "original_cost": 0.5 * (a2 - 1.0) ** 2,
    }
    for name, value in mine.items():
        assert close(value, PRIMER[name]), name


# ---------------------------------------------------------------------------
# 3. Primer: the [2,3,2] demo with given weights, one step on one example
# ---------------------------------------------------------------------------
DEMO_B = [[[0.54001045], [0.75958375], [0.01870296]], [[-0.32783478], [0.06061246]]]
DEMO_W = [
    [[-0.11499179, 0.454649], [-0.65801895, 0.56618695], [-0.15686814, -0.87499479]],
    [[0.01071228, -0.49139708, -0.81775586], [-0.87455946, -0.08351883, -0.77534763]],
]
DEMO_X, DEMO_Y, DEMO_STEP = [0.8, 0.2], [0.0, 1.0], 0.1


def scalar_chain_rule(x, y, weights, biases, step):
    """Forward and backward pass one neuron and one weight at a time (the primer's way).

    weights[l][j][k] connects neuron k of layer l to neuron j of layer l+1;
    biases[l][j] is a plain float.  Returns (output, grad_b, grad_w, new_w, new_b).
    """
    zs, activations = [], [list(x)]
    for w, b in zip(weights, biases):
        prev = activations[-1]
        z = [sum(w[j][k] * prev[k] for k in range(len(prev))) + b[j] for j in range(len(w))]
        zs.append(z)
        activations.append([logistic(v) for v in z])

    n_layers = len(weights)
    grad_b, grad_w = [None] * n_layers, [None] * n_layers
    dc_da = [a - t for a, t in zip(activations[-1], y)]  # quadratic cost
    for l in range(n_layers - 1, -1, -1):
        dc_db = [logistic_prime(z) * d for z, d in zip(zs[l], dc_da)]
        prev = activations[l]
        grad_b[l] = dc_db
        grad_w[l] = [[prev[k] * dc_db[j] for k in range(len(prev))] for j in range(len(dc_db))]
        # dC/da of the previous layer: each sending neuron collects from every receiver
        dc_da = [sum(weights[l][j][k] * dc_db[j] for j in range(len(dc_db))) for k in range(len(prev))]

    new_w = [
        [[w - step * g for w, g in zip(wrow, grow)] for wrow, grow in zip(wl, gl)] for wl, gl in zip(weights, grad_w)
    ]
    new_b = [[b - step * g for b, g in zip(bl, gl)] for bl, gl in zip(biases, grad_b)]
    return activations[-1], grad_b, grad_w, new_w, new_b


def demo_network():
    return Network([2, 3, 2], weights=[np.array(w) for w in DEMO_W], biases=[np.array(b) for b in DEMO_B])


@pytest.fixture(scope="module")
def demo_reference():
    flat_b = [[row[0] for row in b] for b in DEMO_B]
    return scalar_chain_rule(DEMO_X, DEMO_Y, DEMO_W, flat_b, DEMO_STEP)


def test_demo_takes_column_biases_and_is_float64():
    net = demo_network()
    assert net.dtype == np.float64
    assert [b.shape for b in net.biases] == [(3,), (2,)]
    np.testing.assert_array_equal(net.biases[0], [0.54001045, 0.75958375, 0.01870296])


def test_demo_feedforward(demo_reference):
    out_ref = demo_reference[0]
    net = demo_network()
    col = net.feedforward(np.array(DEMO_X).reshape(2, 1))
    assert col.shape == (2, 1)
    np.testing.assert_allclose(col[:, 0], out_ref, rtol=REL, atol=0)
    np.testing.assert_allclose(net.feedforward(np.array(DEMO_X)), out_ref, rtol=REL, atol=0)


@pytest.mark.parametrize("as_column", [True, False])
def test_demo_gradients(demo_reference, as_column):
    _, grad_b, grad_w, _, _ = demo_reference
    net = demo_network()
    x, y = np.array(DEMO_X), np.array(DEMO_Y)
    if as_column:
        x, y = x.reshape(2, 1), y.reshape(2, 1)
    nabla_b, nabla_w = net.backprop(x, y)
    for l in range(2):
        assert nabla_b[l].shape == net.biases[l].shape
        assert nabla_w[l].shape == net.weights[l].shape
        np.testing.assert_allclose(nabla_b[l], grad_b[l], rtol=REL, atol=0)
        np.testing.assert_allclose(nabla_w[l], grad_w[l], rtol=REL, atol=0)


def test_demo_one_sgd_step(demo_reference):
    _, _, _, new_w, new_b = demo_reference
    net = demo_network()
    x, y = np.array(DEMO_X).reshape(2, 1), np.array(DEMO_Y).reshape(2, 1)
    before = net.cost(net.feedforward(x), y)
    net.SGD([(x, y)], 1, 1, DEMO_STEP, log=None)
    for l in range(2):
        np.testing.assert_allclose(net.weights[l], new_w[l], rtol=REL, atol=0)
        np.testing.assert_allclose(net.biases[l], new_b[l], rtol=REL, atol=0)
    assert net.cost(net.feedforward(x), y) < before


# ---------------------------------------------------------------------------
# 5. Tutorial: gradient descent on f(x) = x^4 - 3x^3 + 2
# ---------------------------------------------------------------------------
def test_gradient_descent_example_prints_the_tutorial_minimum():
    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == "The local minimum occurs at 2.249965\n"


def test_gradient_descent_example_main_via_runpy(capsys):
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert capsys.readouterr().out.strip() == "The local minimum occurs at 2.249965"


def test_descend_function():
    ns = runpy.run_path(str(EXAMPLE))  # run_name is not "__main__": nothing printed
    descend, df = ns["descend"], ns["df"]
    x = descend(df, 6, 0.01, 1e-5)
    assert f"{x:f}" == "2.249965"
    assert abs(x - 2.25) < 1e-4 and x < 2.25  # approaches the exact minimum 9/4 from below
    assert abs(df(x)) < 1e-3
    assert ns["f"](x) == pytest.approx(-6.54296875, abs=1e-7)  # f(9/4), the minimum value
    # a second function: a parabola with its minimum at 3
    assert descend(lambda v: 2 * (v - 3), 0.0, 0.1, 1e-12) == pytest.approx(3.0, abs=1e-10)
    with pytest.raises(RuntimeError):
        descend(df, 6, 1.0, 1e-5)  # step far too large: diverges
    with pytest.raises(ValueError):
        descend(df, 6, 0.0, 1e-5)


def test_glassnet_sigmoid_agrees_with_the_reference_on_seed_values():
    z = np.array([1.124, 1.73908830732614, 1.125412619579014, 1.7427101863028525])
    np.testing.assert_allclose(glassnet.sigmoid(z), [logistic(v) for v in z], rtol=1e-15)
