"""glassnet.views.explain for chapter 6: "why this digit?" of a LayerNetwork and of an Ensemble.

The input gradient of the probability of digit k, checked against central differences of
the model's own ``feedforward`` (inference mode: dropout-scaled weights, no masks) for
convolutional, pooled and dense layers of every activation, and for ensembles whose
members mix softmax and sigmoid outputs (the latter made into probabilities by their sum).
"""

import numpy as np
import pytest

from glassnet import Network
from glassnet.core.ensemble import Ensemble
from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
from glassnet.errors import InputError
from glassnet.views.explain import as_float64, input_gradient, saliency


def central_gradient(model, x, k, eps=1e-6):
    """d p_k / d x by central differences of the model's probabilities (float64)."""
    grad = np.zeros_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = eps
        grad[i] = (model.feedforward((x + e)[None])[0, k] - model.feedforward((x - e)[None])[0, k]) / (2 * eps)
    return grad


def randomised(net, seed):
    """``net`` with every weight and bias drawn afresh (the softmax layer starts at zero)."""
    rng = np.random.default_rng(seed)
    for p in net.params():
        p[...] = rng.normal(0, 0.8, p.shape)
    return net


LAYERS = {
    "conv relu, pool, fc tanh, dropout": lambda: [
        ConvPoolLayer((3, 1, 3, 3), (1, 8, 8), activation_fn="relu"),
        FullyConnectedLayer(27, 6, activation_fn="tanh", p_dropout=0.3),
        SoftmaxLayer(6, 4, p_dropout=0.2),
    ],
    "two conv layers, sigmoid": lambda: [
        ConvPoolLayer((3, 2, 3, 3), (2, 10, 10), poolsize=(1, 1)),
        ConvPoolLayer((4, 3, 3, 3), (3, 8, 8)),
        SoftmaxLayer(4 * 3 * 3, 5),
    ],
    "dense only": lambda: [FullyConnectedLayer(12, 7, activation_fn="relu"), SoftmaxLayer(7, 3)],
}


@pytest.mark.parametrize("name", LAYERS)
def test_a_layer_networks_gradient_against_central_differences(name):
    net = randomised(LayerNetwork(LAYERS[name](), seed=1, dtype=np.float64), seed=2)
    x = np.random.default_rng(3).random(net.layers[0].n_in)
    for k in range(net.n_out):
        grad, got = input_gradient(net, x, k)
        assert got == k and grad.shape == x.shape
        np.testing.assert_allclose(grad, central_gradient(net, x, k), rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(saliency(net, x, k), x * grad, rtol=1e-12)


def test_an_ensembles_gradient_is_that_of_its_mean_probabilities():
    conv = randomised(LayerNetwork(LAYERS["conv relu, pool, fc tanh, dropout"](), seed=0, dtype=np.float64), 5)
    members = [
        conv,
        Network([64, 5, 4], seed=1, dtype=np.float64),
        Network([64, 6, 4], seed=2, cost="log-likelihood", dtype=np.float64),
    ]
    x = np.random.default_rng(4).random(64)
    for combine in ("mean", "vote"):
        ensemble = Ensemble(members, combine=combine)
        for k in range(4):
            grad, _ = input_gradient(ensemble, x, k)
            np.testing.assert_allclose(grad, central_gradient(ensemble, x, k), rtol=1e-5, atol=1e-9)
        assert input_gradient(ensemble, x)[1] == int(np.argmax(ensemble.feedforward(x[None])[0]))


def test_float32_models_are_explained_in_float64_and_left_alone():
    net = randomised(LayerNetwork(LAYERS["dense only"](), seed=1), seed=2)  # float32
    x = np.random.default_rng(5).random(12)
    twin = net.astype(np.float64)
    assert as_float64(twin) is twin and as_float64(net).dtype == np.float64
    np.testing.assert_allclose(saliency(net, x, 1), saliency(twin, x, 1), rtol=1e-12)
    assert saliency(net, x).dtype == np.float64 and net.dtype == np.float32
    ensemble = Ensemble([net, Network([12, 4, 3], seed=0)])
    assert all(m.dtype == np.float64 for m in as_float64(ensemble).members)
    assert all(m.dtype == np.float32 for m in ensemble.members)


def test_bad_inputs_are_refused():
    net = LayerNetwork(LAYERS["dense only"](), seed=1)
    with pytest.raises(InputError, match=r"shape \(12,\)"):
        saliency(net, np.zeros(13))
    with pytest.raises(InputError, match="digit must be an integer 0..2"):
        saliency(net, np.zeros(12), 3)
    with pytest.raises(InputError, match="finite"):
        saliency(Ensemble([net]), np.full(12, np.nan))
