"""glassnet.views.explain: "why this digit?" -- the output's gradient with respect to the input, times it.

Checked against central finite differences on small networks of every output kind, and on a
network trained on real MNIST: removing a little of the ink the map marks most positive lowers
the winning output by what the map predicts, to first order.
"""

import numpy as np
import pytest

from glassnet import Network
from glassnet.book.trace import build_network
from glassnet.errors import InputError
from glassnet.views.explain import input_gradient, saliency


def central_gradient(net, x, k, eps=1e-6):
    """d a^L_k / d x by central differences of the network's own feedforward."""
    grad = np.zeros_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = eps
        grad[i] = (net.feedforward(x + e)[k] - net.feedforward(x - e)[k]) / (2 * eps)
    return grad


NETWORKS = {
    "sigmoid 6-5-4": dict(sizes=[6, 5, 4]),
    "sigmoid 6-5-4-3": dict(sizes=[6, 5, 4, 3]),
    "no hidden layer 6-4": dict(sizes=[6, 4]),
    "softmax 6-5-4": dict(sizes=[6, 5, 4], cost="log-likelihood"),
    "tanh hidden 6-5-4": dict(sizes=[6, 5, 4], activation="tanh"),
    "softmax, tanh 6-5-5-4": dict(sizes=[6, 5, 5, 4], cost="log-likelihood", activation="tanh"),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_the_gradient_against_central_differences_for_every_output(name):
    kw = dict(NETWORKS[name])
    net = build_network(kw.pop("sizes"), seed=3, **kw)
    x = np.random.default_rng(1).random(net.sizes[0])
    for k in range(net.sizes[-1]):
        grad, got_k = input_gradient(net, x, k)
        assert got_k == k
        np.testing.assert_allclose(grad, central_gradient(net, x, k), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(saliency(net, x, k), x * central_gradient(net, x, k), rtol=1e-6, atol=1e-9)


def test_the_default_digit_is_the_networks_answer():
    net = build_network([6, 5, 4], seed=0)
    x = np.random.default_rng(2).random(6)
    winner = int(np.argmax(net.feedforward(x)))
    assert input_gradient(net, x)[1] == winner
    assert np.array_equal(saliency(net, x), saliency(net, x, winner))
    assert np.all(saliency(net, np.zeros(6)) == 0)  # no ink, no evidence


def test_a_float32_network_is_explained_in_float64():
    net = Network([6, 5, 4], seed=0)
    x = np.random.default_rng(2).random(6).astype(np.float32)
    s = saliency(net, x, 1)
    assert s.dtype == np.float64 and s.shape == (6,)
    assert net.dtype == np.float32
    ref = build_network(weights=net.weights, biases=net.biases)
    np.testing.assert_allclose(s, saliency(ref, x.astype(np.float64), 1), rtol=1e-12)


@pytest.mark.parametrize(
    "x, digit, needle",
    [
        (np.zeros(5), None, r"shape \(6,\)"),
        (np.zeros((1, 6)), None, "shape"),
        (np.full(6, np.nan), None, "finite"),
        (np.zeros(6), 4, "0..3"),
        (np.zeros(6), -1, "0..3"),
        (np.zeros(6), 1.0, "integer"),
        (np.zeros(6), True, "integer"),
        (np.zeros(6), "1", "integer"),
    ],
)
def test_bad_input_is_refused(x, digit, needle):
    with pytest.raises(InputError, match=needle):
        saliency(build_network([6, 5, 4], seed=0), x, digit)


@pytest.fixture(scope="module")
def trained(mnist):
    net = Network([784, 30, 10], seed=0)
    net.SGD((mnist.training.X, mnist.training.y), 1, 10, 3.0, log=None)
    X, y = mnist.test.X[:200], mnist.test.y[:200]
    right = np.flatnonzero(net.predict(X) == y)
    assert len(right) > 150  # a network that reads digits
    return net, X[right[:20]].astype(np.float64)


def test_removing_the_most_positive_ink_lowers_the_winner_as_predicted(trained):
    net, X = trained
    eps = 1e-3  # small: the map is a first-order prediction
    for x in X:
        k = int(np.argmax(net.feedforward(x)))
        s = saliency(net, x)
        top = np.argsort(s)[-20:]  # the 20 pixels that speak most for k
        assert np.all(s[top] > 0)
        x2 = x.copy()
        x2[top] *= 1 - eps  # remove eps of their ink
        ref = build_network(weights=net.weights, biases=net.biases)  # float64, for the small change
        change = ref.feedforward(x2)[k] - ref.feedforward(x)[k]
        predicted = -eps * s[top].sum()  # first order: sum over the pixels of dx * grad
        assert change < 0
        assert change == pytest.approx(predicted, rel=0.05)


def test_the_most_negative_ink_speaks_against_the_winner(trained):
    net, X = trained
    ref = build_network(weights=net.weights, biases=net.biases)
    raised = 0
    for x in X:
        k = int(np.argmax(ref.feedforward(x)))
        s = saliency(ref, x)
        bottom = np.argsort(s)[:20]
        bottom = bottom[s[bottom] < 0]
        if len(bottom) < 5:
            continue  # hardly any ink against k in this digit
        x2 = x.copy()
        x2[bottom] *= 1 - 1e-3
        change = ref.feedforward(x2)[k] - ref.feedforward(x)[k]
        assert change > 0 and change == pytest.approx(-1e-3 * s[bottom].sum(), rel=0.05)
        raised += 1
    assert raised >= 10
