"""The core's behaviour: backprop, gradient check, sigmoid, feedforward, SGD, evaluate.

References are written here independently of glassnet: a per-example backprop loop
the book's way (column vectors, one training example at a time), activation
functions from their textbook formulas, and explicit finite differences.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import glassnet
from glassnet import LabelError, Network, gradient_check, sigmoid, sigmoid_prime
from glassnet.engines import NumpyEngine

F64 = np.float64


# ---------------------------------------------------------------------------
# references
# ---------------------------------------------------------------------------
def ref_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def ref_softmax(z):  # z a column (n, 1)
    e = np.exp(z - z.max())
    return e / e.sum()


REF_ACTIVATIONS = {  # name -> (f(z), f'(z)), both from z
    "sigmoid": (ref_sigmoid, lambda z: ref_sigmoid(z) * (1 - ref_sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
}


def book_backprop(net, x, y, cost="quadratic", hidden="sigmoid"):
    """Gradient for ONE training example, the book's way: x, y columns; lists of columns.

    Output layer: sigmoid, except softmax for the log-likelihood cost.
    BP1: quadratic  delta = (a - y) * sigma'(z);  cross-entropy with sigmoid and
    log-likelihood with softmax: delta = a - y (book eq. 66 and 84).
    """
    f, f_prime = REF_ACTIVATIONS[hidden]
    n_layers = len(net.weights)
    activation, activations, zs = x, [x], []
    for l, (b, w) in enumerate(zip(net.biases, net.weights)):
        z = np.dot(w, activation) + b.reshape(-1, 1)
        zs.append(z)
        if l < n_layers - 1:
            activation = f(z)
        else:
            activation = ref_softmax(z) if cost == "log-likelihood" else ref_sigmoid(z)
        activations.append(activation)
    a = activations[-1]
    if cost == "quadratic":
        delta = (a - y) * REF_ACTIVATIONS["sigmoid"][1](zs[-1])
    else:
        delta = a - y
    nabla_b = [None] * n_layers
    nabla_w = [None] * n_layers
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].T)
    for l in range(2, n_layers + 1):
        delta = np.dot(net.weights[-l + 1].T, delta) * f_prime(zs[-l])
        nabla_b[-l] = delta
        nabla_w[-l] = np.dot(delta, activations[-l - 1].T)
    return [b.reshape(-1) for b in nabla_b], nabla_w


def summed_book_gradients(net, X, Y, cost="quadratic", hidden="sigmoid"):
    total_b = [np.zeros_like(b) for b in net.biases]
    total_w = [np.zeros_like(w) for w in net.weights]
    for x, y in zip(X, Y):
        nb, nw = book_backprop(net, x.reshape(-1, 1), y.reshape(-1, 1), cost, hidden)
        total_b = [t + g for t, g in zip(total_b, nb)]
        total_w = [t + g for t, g in zip(total_w, nw)]
    return total_b, total_w


def targets(cost, m, k, rng):
    if cost == "log-likelihood":
        return glassnet.one_hot(rng.integers(0, k, size=m), k, dtype=F64)
    return rng.uniform(0, 1, size=(m, k))


def assert_grads_close(got, want, rtol=1e-12):
    for g, w in zip(got, want):
        assert g.shape == w.shape
        scale = max(float(np.max(np.abs(w))), 1e-300)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * scale)


# ---------------------------------------------------------------------------
# matrix-based backprop == sum of the book's per-example gradients
# ---------------------------------------------------------------------------
SIZES = [[4, 3, 2], [6, 5, 4, 3], [3, 7, 7, 7, 2]]


@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("m", [1, 2, 5, 17])
def test_matrix_backprop_equals_sum_of_per_example_gradients_quadratic(sizes, m):
    rng = np.random.default_rng(1000 * m + len(sizes))
    net = Network(sizes, seed=m, dtype=F64)
    X = rng.normal(size=(m, sizes[0]))
    Y = targets("quadratic", m, sizes[-1], rng)
    nabla_b, nabla_w = net.backprop(X, Y)
    want_b, want_w = summed_book_gradients(net, X, Y)
    assert all(g.dtype == F64 for g in nabla_b + nabla_w)
    assert_grads_close(nabla_b, want_b)
    assert_grads_close(nabla_w, want_w)


@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("cost", ["cross-entropy", "log-likelihood"])
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
def test_matrix_backprop_equals_per_example_formula_other_costs(sizes, cost, hidden):
    rng = np.random.default_rng(len(sizes))
    net = Network(sizes, seed=7, dtype=F64, cost=cost, activation=hidden)
    assert net.cost.name == cost
    X = rng.normal(size=(9, sizes[0]))
    Y = targets(cost, 9, sizes[-1], rng)
    nabla_b, nabla_w = net.backprop(X, Y)
    want_b, want_w = summed_book_gradients(net, X, Y, cost, hidden)
    assert_grads_close(nabla_b, want_b)
    assert_grads_close(nabla_w, want_w)


def test_backprop_single_example_column_or_vector():
    rng = np.random.default_rng(0)
    net = Network([4, 5, 3], seed=1, dtype=F64)
    x, y = rng.normal(size=(4, 1)), rng.uniform(size=(3, 1))
    want_b, want_w = book_backprop(net, x, y)
    for xx, yy in ((x, y), (x.ravel(), y.ravel())):
        nb, nw = net.backprop(xx, yy)
        assert [g.shape for g in nb] == [(5,), (3,)]
        assert [g.shape for g in nw] == [(5, 4), (3, 5)]
        assert_grads_close(nb, want_b)
        assert_grads_close(nw, want_w)


def test_cost_values_and_derivatives():
    rng = np.random.default_rng(3)
    A = rng.uniform(0.05, 0.95, size=(4, 3))
    Y = rng.uniform(size=(4, 3))
    quad = Network([2, 3], cost="quadratic", seed=0, dtype=F64)
    xent = Network([2, 3], cost="cross-entropy", seed=0, dtype=F64)
    assert quad.cost(A, Y) == pytest.approx(0.5 * np.sum((A - Y) ** 2), rel=1e-14)
    assert xent.cost(A, Y) == pytest.approx(-np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)), rel=1e-14)
    np.testing.assert_allclose(quad.cost_derivative(A, Y), A - Y, rtol=1e-15)
    # cross-entropy dC/da = (a - y) / (a (1 - a)), checked by central differences
    h = 1e-6
    numeric = np.zeros_like(A)
    for i, j in np.ndindex(*A.shape):
        d = np.zeros_like(A)
        d[i, j] = h
        numeric[i, j] = (xent.cost(A + d, Y) - xent.cost(A - d, Y)) / (2 * h)
    np.testing.assert_allclose(xent.cost_derivative(A, Y), numeric, rtol=1e-6)

    ll = Network([2, 3], cost="log-likelihood", seed=0, dtype=F64)
    assert ll.output_activation.name == "softmax"
    P = A / A.sum(axis=1, keepdims=True)
    T = glassnet.one_hot(np.array([0, 2, 1, 1]), 3, dtype=F64)
    assert ll.cost(P, T) == pytest.approx(-np.sum(np.log(P[np.arange(4), [0, 2, 1, 1]])), rel=1e-14)


def test_quadratic_cost_with_softmax_output_is_refused():
    net = Network([3, 2], cost="quadratic", output_activation="softmax", seed=0, dtype=F64)
    with pytest.raises(ValueError):
        net.backprop(np.ones((2, 3)), np.ones((2, 2)))


@pytest.mark.parametrize(
    "kwargs", [{"cost": "hinge"}, {"activation": "swish"}, {"init": "xavier"}, {"output_activation": "nope"}]
)
def test_unknown_names_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        Network([2, 2, 2], seed=0, **kwargs)


# ---------------------------------------------------------------------------
# gradient check (finite differences, book eq. 2.21)
# ---------------------------------------------------------------------------
def random_sizes(depth, rng):
    return [int(v) for v in rng.integers(2, 6, size=depth)]


GRADCHECK_CASES = [
    (depth, cost, hidden)
    for depth in (2, 3, 4, 5, 6)
    for cost in ("quadratic", "cross-entropy", "log-likelihood")
    for hidden in ("sigmoid", "tanh", "relu")
    if depth > 2 or hidden == "sigmoid"
]  # depth 2: no hidden layer


@pytest.mark.parametrize("depth, cost, hidden", GRADCHECK_CASES)
def test_gradient_check_passes(depth, cost, hidden):
    rng = np.random.default_rng(100 * depth + len(cost) + len(hidden))
    sizes = random_sizes(depth, rng)
    net = Network(sizes, seed=depth, dtype=F64, cost=cost, activation=hidden)
    X = rng.normal(size=(4, sizes[0]))
    Y = targets(cost, 4, sizes[-1], rng)
    saved = [p.copy() for p in net.weights + net.biases]
    # relu is piecewise linear: a wide stencil could straddle a kink, so use a narrow central one
    err = gradient_check(net, X, Y, **(dict(order=2, eps=1e-5) if hidden == "relu" else {}))
    # Backprop itself is exact here (it equals the per-example loop to 1e-12, above);
    # what limits ``err`` is the finite difference.  The default five-point stencil
    # (truncation O(eps^4)) meets 1e-6; plain central differences with eps = 1e-4 reach
    # only ~5e-6 on tanh networks (O(eps^2) truncation), checked separately below.
    # relu has kinks: a parameter whose step moves a pre-activation across 0 sees a
    # one-sided slope, so relu networks get the looser bound.
    assert err < (1e-5 if hidden == "relu" else 1e-6), f"sizes {sizes}: worst relative error {err:.2e}"
    if hidden != "relu":
        assert gradient_check(net, X, Y, order=2) < 1e-5
    for p, q in zip(net.weights + net.biases, saved):  # parameters restored exactly
        np.testing.assert_array_equal(p, q)


def test_gradient_check_with_max_params_and_single_example():
    net = Network([5, 6, 4], seed=0, dtype=F64)
    rng = np.random.default_rng(0)
    assert gradient_check(net, rng.normal(size=(3, 5)), rng.uniform(size=(3, 4)), max_params=3, rng=1) < 1e-6
    # a single example given as 1-D arrays
    assert gradient_check(net, rng.normal(size=5), rng.uniform(size=4)) < 1e-6


@pytest.mark.parametrize("breakage", ["scaled", "one layer", "sign", "transposed batch sum"])
def test_gradient_check_detects_a_broken_gradient(monkeypatch, breakage):
    net = Network([4, 5, 3], seed=2, dtype=F64)
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(6, 4)), rng.uniform(size=(6, 3))
    good = net.backprop

    def broken(x, y):
        nb, nw = good(x, y)
        if breakage == "scaled":
            return [1.1 * g for g in nb], [1.1 * g for g in nw]
        if breakage == "one layer":
            nw = list(nw)
            nw[0] = 0.5 * nw[0]
            return nb, nw
        if breakage == "sign":
            return [-g for g in nb], [-g for g in nw]
        # mean instead of sum over the batch
        return [g / len(X) for g in nb], [g / len(X) for g in nw]

    assert gradient_check(net, X, Y) < 1e-6
    monkeypatch.setattr(net, "backprop", broken)
    assert gradient_check(net, X, Y) > 1e-2


# ---------------------------------------------------------------------------
# sigmoid
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_no_warnings_over_a_wide_range(dtype):
    z = np.concatenate([np.linspace(-1e4, 1e4, 200_001), [-1e4, -1e3, -800, -100, 0, 100, 800, 1e3, 1e4]])
    z = z.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is fine
            s = sigmoid(z)
            sp = sigmoid_prime(z)
            s_copy = z.copy()
            sigmoid(s_copy, out=s_copy)  # in place
    assert s.dtype == dtype and sp.dtype == dtype
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(sp))
    assert np.all((s >= 0) & (s <= 1)) and np.all(sp >= 0) and np.all(sp <= 0.25)
    assert np.all(np.diff(s[:200_001]) >= 0)  # non-decreasing
    assert s[z == 0][0] == 0.5 and sp[z == 0][0] == 0.25
    # sigma(-1e4) ~ e^-10000 is below every normal float: anything under the smallest normal is exact
    assert np.all(s[z == 1e4] == 1) and np.all(s[z == -1e4] <= np.finfo(dtype).tiny)
    np.testing.assert_array_equal(s_copy, s)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_matches_the_formula_to_absolute_precision(dtype):
    z = np.linspace(-200, 200, 40_001).astype(dtype)
    with np.errstate(over="ignore"):
        ref = ref_sigmoid(z.astype(F64))
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(sigmoid(z), ref, rtol=0, atol=2 * eps)


@pytest.mark.parametrize("dtype, lo, rtol", [(np.float64, -700, 1e-12), (np.float32, -80, 1e-5)])
def test_sigmoid_keeps_relative_precision_for_negative_z(dtype, lo, rtol):
    """Where 1/(1+exp(-z)) is finite and representable, sigmoid is relatively accurate.

    sigma(z) ~ e^z for z << 0: a tiny number that floating point represents well
    (sigma(-40) = 4.2e-18 in float64; sigma(-20) = 2.1e-9 in float32).
    """
    z = np.linspace(lo, 0, 2001).astype(dtype)
    ref = ref_sigmoid(z.astype(F64))
    representable = ref > np.finfo(dtype).tiny
    np.testing.assert_allclose(sigmoid(z)[representable], ref[representable], rtol=rtol, atol=0)


def test_sigmoid_of_python_and_numpy_scalars():
    assert sigmoid(0.0) == 0.5
    assert float(sigmoid(np.float64(2.0))) == pytest.approx(ref_sigmoid(2.0), rel=1e-15)
    assert float(sigmoid(np.array(-1.0))) == pytest.approx(ref_sigmoid(-1.0), rel=1e-15)
    assert sigmoid_prime(0.0) == 0.25


def test_sigmoid_prime_matches_finite_differences():
    z = np.linspace(-30, 30, 1201)
    h = 1e-6
    numeric = (sigmoid(z + h) - sigmoid(z - h)) / (2 * h)
    np.testing.assert_allclose(sigmoid_prime(z), numeric, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sigmoid_prime(z), ref_sigmoid(z) * (1 - ref_sigmoid(z)), rtol=0, atol=1e-15)
    assert sigmoid_prime(np.zeros(3, np.float32)).dtype == np.float32


def test_sigmoid_keeps_integer_input_as_float():
    np.testing.assert_allclose(sigmoid(np.array([-1, 0, 1])), ref_sigmoid(np.array([-1.0, 0.0, 1.0])), rtol=1e-15)


# ---------------------------------------------------------------------------
# feedforward
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_feedforward_shapes_agree(dtype):
    net = Network([5, 4, 3], seed=0, dtype=dtype)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 5))
    batch = net.feedforward(X)
    assert batch.shape == (6, 3) and batch.dtype == dtype
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-14, atol=0)
    for i, x in enumerate(X):
        vec = net.feedforward(x)
        col = net.feedforward(x.reshape(5, 1))
        assert vec.shape == (3,) and col.shape == (3, 1)
        assert vec.dtype == dtype and col.dtype == dtype
        np.testing.assert_allclose(col[:, 0], vec, **tol)
        np.testing.assert_allclose(batch[i], vec, **tol)


def test_feedforward_matches_the_book_loop():
    net = Network([3, 7, 7, 2], seed=5, dtype=F64)
    x = np.random.default_rng(5).normal(size=(3, 1))
    a = x
    for b, w in zip(net.biases, net.weights):
        a = ref_sigmoid(np.dot(w, a) + b.reshape(-1, 1))
    np.testing.assert_allclose(net.feedforward(x), a, rtol=1e-14)


def test_feedforward_single_input_network():
    net = Network([1, 3, 2], seed=0, dtype=F64)
    assert net.feedforward(np.array([0.3])).shape == (2,)
    assert net.feedforward(np.array([[0.3], [0.1], [0.2]])).shape == (3, 2)  # (m, 1): a batch


@pytest.mark.parametrize(
    "bad",
    [np.zeros(4), np.zeros((4, 1)), np.zeros((2, 4)), np.zeros((2, 5, 1))],
    ids=["vector", "column", "batch", "3-D"],
)
def test_feedforward_wrong_width_raises(bad):
    net = Network([5, 4, 3], seed=0)
    with pytest.raises(ValueError):
        net.feedforward(bad)


# ---------------------------------------------------------------------------
# construction
# ---------------------------------------------------------------------------
def test_initial_parameters_shapes_and_seed():
    a, b, c = (Network([4, 6, 3], seed=s) for s in (11, 11, 12))
    assert [w.shape for w in a.weights] == [(6, 4), (3, 6)]
    assert [v.shape for v in a.biases] == [(6,), (3,)]
    assert a.dtype == np.float32 and all(p.dtype == np.float32 for p in a.weights + a.biases)
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(p, q)
    assert not all(np.array_equal(p, q) for p, q in zip(a.weights, c.weights))


@pytest.mark.parametrize(
    "weights, biases, shape",
    [
        ([np.zeros((2, 3)), np.zeros((1, 3))], [np.zeros(3), np.zeros(1)], r"\(3, 2\)"),
        ([np.zeros((3, 2)), np.zeros((3, 1))], [np.zeros(3), np.zeros(1)], r"\(1, 3\)"),
        ([np.zeros((3, 2)), np.zeros((1, 3))], [np.zeros(4), np.zeros(1)], r"\(3,\)"),
        ([np.zeros((3, 2)), np.zeros((1, 3))], [np.zeros(3), np.zeros((1, 2))], r"\(1,\)"),
    ],
    ids=["w0 transposed", "w1 transposed", "b0 too long", "b1 too long"],
)
def test_given_parameters_with_wrong_shapes_raise_naming_the_shape(weights, biases, shape):
    with pytest.raises(ValueError, match=shape):
        Network([2, 3, 1], weights=weights, biases=biases)


def test_given_parameters_wrong_count_or_half_given():
    with pytest.raises(ValueError):
        Network([2, 3, 1], weights=[np.zeros((3, 2))], biases=[np.zeros(3)])
    with pytest.raises(ValueError):
        Network([2, 3, 1], weights=[np.zeros((3, 2)), np.zeros((1, 3))])
    with pytest.raises(ValueError):
        Network([2])
    with pytest.raises(ValueError):
        Network([2, 0, 1])


def test_given_parameters_are_copied():
    w = [np.ones((3, 2)), np.ones((1, 3))]
    b = [np.zeros((3, 1)), np.zeros((1, 1))]
    net = Network([2, 3, 1], weights=w, biases=b)
    net.SGD([(np.ones(2), np.zeros(1))], 1, 1, 1.0, log=None)
    assert np.all(w[0] == 1) and np.all(b[0] == 0)


# ---------------------------------------------------------------------------
# SGD
# ---------------------------------------------------------------------------
def blobs(n, rng, sep=1.5, sd=0.7):
    labels = rng.integers(0, 2, size=n)
    X = rng.normal(0, sd, size=(n, 2)) + np.where(labels[:, None] == 1, sep, -sep)
    return X, labels


def small_data(n=7, n_in=3, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    labels = rng.integers(0, n_out, size=n)
    return X, labels, glassnet.one_hot(labels, n_out, dtype=F64)


def params(net):
    return [p.copy() for p in net.weights + net.biases]


def assert_params_equal(a, b):
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)


def assert_params_close(a, b, rtol=1e-12):
    for p, q in zip(a, b):
        np.testing.assert_allclose(p, q, rtol=rtol, atol=rtol * float(np.max(np.abs(q))))


def test_sgd_history_without_test_data():
    X, labels, Y = small_data()
    net = Network([3, 4, 2], seed=0)
    assert net.SGD((X, Y), 3, 2, 1.0, log=None) is None  # as the book's: nothing echoed at >>>
    history = net.history
    assert len(history) == 3
    assert [r["epoch"] for r in history] == [0, 1, 2]
    for r in history:
        # the book's SGD measures nothing on the training data (fit does, when asked)
        assert set(r) == {"epoch", "seconds", "engine"}
        assert r["seconds"] >= 0 and r["engine"] in ("numpy", "kernel")


def test_sgd_history_with_test_data():
    X, labels, Y = small_data()
    Xt, lt, _ = small_data(n=11, seed=1)
    net = Network([3, 4, 2], seed=0, dtype=F64)
    net.SGD((X, Y), 2, 3, 1.0, test_data=(Xt, lt), log=None)
    history = net.history
    assert len(history) == 2
    assert set(history[0]) == {"epoch", "seconds", "engine", "correct", "total", "accuracy"}
    last = history[-1]
    assert last["total"] == 11
    assert last["correct"] == net.evaluate((Xt, lt))
    assert last["accuracy"] == last["correct"] / 11


def test_sgd_zero_epochs_changes_nothing():
    X, _, Y = small_data()
    net = Network([3, 4, 2], seed=0)
    before = params(net)
    assert net.SGD((X, Y), 0, 2, 1.0, log=None) is None and net.history == []
    assert_params_equal(params(net), before)


def test_sgd_prints_like_the_book_with_test_data(capsys):
    X, labels, Y = small_data()
    Xt, lt, _ = small_data(n=11, seed=1)
    net = Network([3, 4, 2], seed=0)
    net.SGD((X, Y), 2, 3, 1.0, test_data=(Xt, lt), log=print)
    after_two = net.evaluate((Xt, lt))
    twin = Network([3, 4, 2], seed=0)  # the same run, stopped after epoch 0
    twin.SGD((X, Y), 1, 3, 1.0, log=None)
    after_one = twin.evaluate((Xt, lt))
    assert capsys.readouterr().out == f"Epoch 0: {after_one} / 11\nEpoch 1: {after_two} / 11\n"


def test_sgd_prints_epoch_complete_without_test_data(capsys):
    X, _, Y = small_data()
    Network([3, 4, 2], seed=0).SGD((X, Y), 2, 3, 1.0)  # log=print is the default
    assert capsys.readouterr().out == "Epoch 0 complete\nEpoch 1 complete\n"


def test_sgd_silent_with_log_none(capsys):
    X, _, Y = small_data()
    Network([3, 4, 2], seed=0).SGD((X, Y), 1, 3, 1.0, log=None)
    assert capsys.readouterr().out == ""


def test_sgd_log_receives_exact_messages():
    X, _, Y = small_data()
    Xt, lt, _ = small_data(n=5, seed=1)
    got = []
    net = Network([3, 4, 2], seed=0)
    net.SGD((X, Y), 1, 3, 1.0, test_data=list(zip(Xt, lt.tolist())), log=got.append)
    assert got == [f"Epoch 0: {net.evaluate((Xt, lt))} / 5"]


def _online_orders(net0, X, Y, eta, batch):
    """Parameters after one epoch of sequential steps, for every order of the examples."""
    results = []
    for order in itertools.permutations(range(len(X))):
        net = Network(net0.sizes, weights=net0.weights, biases=net0.biases, dtype=F64)
        for k in range(0, len(X), batch):
            idx = list(order[k : k + batch])
            net.update_mini_batch([(X[i].reshape(-1, 1), Y[i].reshape(-1, 1)) for i in idx], eta)
        results.append(params(net))
    return results


@pytest.mark.parametrize("batch", [1, 2])
def test_sgd_epoch_is_a_shuffled_sequence_of_mini_batch_steps(batch):
    X, _, Y = small_data(n=4)
    start = Network([3, 4, 2], seed=9, dtype=F64)
    net = Network([3, 4, 2], seed=9, dtype=F64)
    net.SGD((X, Y), 1, batch, 2.0, log=None)
    after = params(net)
    candidates = _online_orders(start, X, Y, 2.0, batch)

    def matches(c):
        return all(np.allclose(p, q, rtol=1e-12, atol=1e-14) for p, q in zip(after, c))

    assert any(matches(c) for c in candidates)
    assert not matches(params(start))


@pytest.mark.parametrize("mini_batch_size", [7, 8, 100])
def test_full_batch_epoch_equals_one_update_on_all_data(mini_batch_size):
    X, _, Y = small_data(n=7)
    a = Network([3, 5, 2], seed=4, dtype=F64)
    b = Network([3, 5, 2], seed=4, dtype=F64)
    a.SGD((X, Y), 1, mini_batch_size, 0.7, log=None)
    b.update_mini_batch((X, Y), 0.7)
    assert_params_close(params(a), params(b))


def test_update_mini_batch_is_eta_over_m_times_summed_gradient():
    X, _, Y = small_data(n=5)
    net = Network([3, 5, 2], seed=4, dtype=F64)
    before = params(net)
    want_b, want_w = summed_book_gradients(net, X, Y)
    net.update_mini_batch(list(zip(X, Y)), 0.3)
    expected = [w - 0.3 / 5 * g for w, g in zip(before[:2], want_w)] + [
        b - 0.3 / 5 * g for b, g in zip(before[2:], want_b)
    ]
    assert_params_close(params(net), expected)


def test_last_mini_batch_may_be_smaller():
    X, _, Y = small_data(n=7)
    calls = []
    # the NumPy engine reports every mini-batch (the compiled kernel reports runs of them)
    net = Network([3, 4, 2], seed=0)
    for _ in range(2):
        NumpyEngine().epoch(net, X, Y, net.rng.permutation(7), 3, 1.0, on_batch=lambda k, t: calls.append((k, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)] * 2


def test_sgd_list_of_column_pairs_equals_array_form():
    X, labels, Y = small_data(n=10)
    pairs = [(x.reshape(-1, 1), y.reshape(-1, 1)) for x, y in zip(X, Y)]
    label_pairs = [(x.reshape(-1, 1), int(l)) for x, l in zip(X, labels)]
    results = []
    for data in (pairs, (X, Y), (X, labels), label_pairs):
        net = Network([3, 4, 2], seed=21)
        net.SGD(data, 3, 3, 0.5, log=None)
        results.append(params(net))
    for r in results[1:]:
        assert_params_equal(r, results[0])


def test_same_seed_bit_identical_different_seed_different():
    X, _, Y = small_data(n=12)
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        net = Network([3, 4, 2], seed=seed)
        net.SGD((X, Y), 3, 4, 1.0, log=None)
        runs[name] = params(net)
    assert_params_equal(runs["a"], runs["b"])
    assert not all(np.array_equal(p, q) for p, q in zip(runs["a"], runs["c"]))


def test_seed_drives_the_shuffle_too():
    X, _, Y = small_data(n=12)
    start = Network([3, 4, 2], seed=0, dtype=F64)
    runs = []
    for seed in (1, 1, 2):
        net = Network([3, 4, 2], seed=seed, weights=start.weights, biases=start.biases)
        net.SGD((X, Y), 2, 3, 1.0, log=None)
        runs.append(params(net))
    assert_params_equal(runs[0], runs[1])
    assert not all(np.array_equal(p, q) for p, q in zip(runs[0], runs[2]))


def test_float32_stays_float32():
    X, labels, Y = small_data(n=10)  # float64 data
    net = Network([3, 4, 2], seed=0)
    assert net.dtype == np.float32
    net.SGD((X, Y), 2, 3, 1.0, test_data=(X, labels), log=None)
    assert all(p.dtype == np.float32 for p in net.weights + net.biases)
    assert net.feedforward(X).dtype == np.float32
    nb, nw = net.backprop(X, Y)
    assert all(g.dtype == np.float32 for g in nb + nw)
    net.update_mini_batch((X, Y), 0.5)
    assert all(p.dtype == np.float32 for p in net.weights + net.biases)


def test_float64_stays_float64_with_float32_data():
    X, _, Y = small_data(n=10)
    net = Network([3, 4, 2], seed=0, dtype=F64)
    net.SGD((X.astype(np.float32), Y.astype(np.float32)), 1, 3, 1.0, log=None)
    assert all(p.dtype == F64 for p in net.weights + net.biases)


@pytest.mark.parametrize(
    "args",
    [
        dict(epochs=-1, mini_batch_size=2, eta=1.0),
        dict(epochs=1, mini_batch_size=0, eta=1.0),
        dict(epochs=1, mini_batch_size=-3, eta=1.0),
        dict(epochs=1, mini_batch_size=2, eta=0.0),
        dict(epochs=1, mini_batch_size=2, eta=-0.5),
        dict(epochs=1, mini_batch_size=2, eta=float("nan")),
    ],
    ids=["epochs<0", "mbs=0", "mbs<0", "eta=0", "eta<0", "eta=nan"],
)
def test_sgd_bad_hyperparameters_raise(args):
    X, _, Y = small_data()
    net = Network([3, 4, 2], seed=0)
    before = params(net)
    with pytest.raises(ValueError):
        net.SGD((X, Y), log=None, **args)
    assert_params_equal(params(net), before)


def test_sgd_bad_data_raises():
    X, labels, Y = small_data(n=6)
    net = Network([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match="3"):
        net.SGD((X[:, :2], Y), 1, 2, 1.0, log=None)  # wrong input width
    with pytest.raises(ValueError):
        net.SGD((X, Y[:5]), 1, 2, 1.0, log=None)  # mismatched lengths
    with pytest.raises(ValueError):
        net.SGD((X, labels[:4]), 1, 2, 1.0, log=None)
    with pytest.raises(ValueError):
        net.SGD((X, np.ones((6, 3))), 1, 2, 1.0, log=None)  # wrong target width
    with pytest.raises(ValueError):
        net.SGD([], 1, 2, 1.0, log=None)  # empty
    with pytest.raises(LabelError):
        net.SGD((X, np.full(6, 2)), 1, 2, 1.0, log=None)  # label out of range for 2 outputs
    with pytest.raises(ValueError):
        net.SGD((X, Y), 1, 2, 1.0, test_data=(X[:, :2], labels), log=None)
    with pytest.raises(ValueError):
        net.update_mini_batch((X[:, :2], Y), 1.0)


# ---------------------------------------------------------------------------
# learning something
# ---------------------------------------------------------------------------
def test_learns_two_gaussian_blobs():
    rng = np.random.default_rng(0)
    X, y = blobs(200, rng)
    Xt, yt = blobs(400, rng)
    net = Network([2, 5, 2], seed=0)
    before = net.evaluate((Xt, yt))
    net.SGD((X, y), 10, 10, 3.0, log=None)  # 200 steps
    after = net.evaluate((Xt, yt))
    assert after >= 0.95 * 400, (before, after)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learns_xor_of_four_clusters(seed):
    """XOR needs the hidden layer: no line separates the classes."""
    rng = np.random.default_rng(100 + seed)

    def xor(n):
        c = rng.integers(0, 2, size=(n, 2))
        return (2 * c - 1) + rng.normal(0, 0.3, size=(n, 2)), c[:, 0] ^ c[:, 1]

    X, y = xor(200)
    Xt, yt = xor(400)
    net = Network([2, 8, 2], seed=seed)
    before = net.measure(X, y)[0]
    net.SGD((X, y), 30, 10, 3.0, test_data=(Xt, yt), log=None)  # 600 steps
    assert net.history[-1]["accuracy"] >= 0.95
    assert net.measure(X, y)[0] < before


# ---------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------
def test_evaluate_counts_correctly():
    rng = np.random.default_rng(8)
    net = Network([3, 4, 3], seed=2, dtype=F64)
    X = rng.normal(size=(20, 3))
    pred = np.array([int(np.argmax(net.feedforward(x.reshape(3, 1)))) for x in X])
    labels = pred.copy()
    wrong = rng.choice(20, size=7, replace=False)
    labels[wrong] = (labels[wrong] + 1 + rng.integers(0, 2, size=7)) % 3
    assert net.evaluate((X, labels)) == 13
    assert net.evaluate([(x.reshape(3, 1), int(l)) for x, l in zip(X, labels)]) == 13
    assert net.evaluate([(x, np.int64(l)) for x, l in zip(X, labels)]) == 13
    assert net.evaluate((X, glassnet.one_hot(labels, 3, F64))) == 13  # one-hot rows
    assert net.evaluate((X, pred)) == 20
    assert net.evaluate([(X[0].reshape(3, 1), int(pred[0]))]) == 1
    assert isinstance(net.evaluate((X, labels)), int)
    np.testing.assert_array_equal(net.predict(X), pred)


def test_evaluate_rejects_wrong_width():
    net = Network([3, 4, 3], seed=2)
    with pytest.raises(ValueError):
        net.evaluate((np.zeros((4, 2)), np.zeros(4, int)))


def test_evaluate_accepts_labels_in_one_element_arrays():
    """A label may come as a 1-element array (y[i:i+1], a column of labels): still a label.

    as_arrays takes every size-1 integer y as a label; converting it must not depend
    on NumPy still allowing int() of a 1-D array (NumPy 2 refuses it).
    """
    net = Network([3, 4, 10], seed=0, dtype=F64)
    X = np.random.default_rng(1).normal(size=(6, 3))
    pred = net.predict(X)
    for wrap in (lambda l: np.array([l]), lambda l: np.array([[l]])):
        assert net.evaluate([(x.reshape(3, 1), wrap(l)) for x, l in zip(X, pred)]) == 6
