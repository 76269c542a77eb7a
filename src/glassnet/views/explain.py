"""Why this digit? The output neuron's gradient with respect to the input, times the input.

For the output neuron k (the winner, or a digit you name), backpropagate a^L_k instead of
the cost. Everything is the same as BP1-BP2 except the start, because the "cost" is now
C = a^L_k, whose gradient with respect to the output activations is the unit vector e_k:

    BP1   delta^L_j = d a^L_k / d z^L_j = f'(z^L_k) [j = k]            (sigmoid, tanh, relu)
                                        = a^L_k ([j = k] - a^L_j)        (softmax)
    BP2   delta^l   = ((w^(l+1))^T delta^(l+1)) (.) f'(z^l)             for l = L-1, ..., 1
    input d a^L_k / d x = (w^1)^T delta^1                               (the input has no f)

(BP3 and BP4 would give d a^L_k / d b and d a^L_k / d w; the input is what we want here.)
The saliency map is x (.) d a^L_k / d x: to first order, how much a^L_k would drop if each
pixel's ink were removed -- the pixel's share of the evidence, positive for ink that speaks
for digit k, negative for ink that speaks against it. Blank pixels (x = 0) get 0.
Computed in float64 whatever the network's dtype.

Chapter 6's layer networks and ensembles are explained the same way, with a^L_k the
probability of digit k:

    LayerNetwork   delta^L = a^L_k (e_k - a^L) at the softmax (as above), then each layer's
                   own ``backward`` with ``need_dx`` down to the input: conv, max-pool and
                   activation alike, in inference mode (no dropout masks, weights scaled
                   by 1 - p_dropout, as ``feedforward`` computes)
    Ensemble       p_k = (1/K) sum_j p_jk, the mean of the members' probabilities, so
                   d p_k / d x = (1/K) sum_j d p_jk / d x; a member whose outputs are not a
                   softmax has p_j = a_j / sum_i a_ji (``as_probabilities``), whose gradient
                   follows by the quotient rule from every output's d a_ji / d x
"""
from __future__ import annotations

import numpy as np

from ..core.ensemble import Ensemble
from ..core.layernet import LayerNetwork
from ..core.layers import softmax
from ..errors import InputError
from ..book.trace import float64_copy

__all__ = ["input_gradient", "saliency", "as_float64"]


def as_float64(network):
    """``network`` in float64 (itself when it is already), for explaining it many times
    without a copy each time: a Network, a LayerNetwork or an Ensemble (of copies)."""
    if isinstance(network, Ensemble):
        if all(m.dtype == np.float64 for m in network.members):
            return network
        return Ensemble([as_float64(m) for m in network.members], network.combine)
    if network.dtype == np.float64:
        return network
    return network.astype(np.float64) if isinstance(network, LayerNetwork) else float64_copy(network)


def _n_in(network):
    if isinstance(network, Ensemble):
        return network.n_in
    return network.layers[0].n_in if isinstance(network, LayerNetwork) else network.sizes[0]


def _digit(digit, output):
    if digit is None:
        return int(np.argmax(output))
    if isinstance(digit, (bool, np.bool_)) or not isinstance(digit, (int, np.integer)) \
            or not 0 <= digit < len(output):
        raise InputError(f"digit must be an integer 0..{len(output) - 1}, got {digit!r}")
    return int(digit)


def _check_input(network, x):
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (_n_in(network),):
        raise InputError(f"x must have shape ({_n_in(network)},) for this network, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError("x must hold finite numbers")
    return x


def input_gradient(network, x, digit=None):
    """``(grad, k)``: grad = d a^L_k / d x, shape (n_in,), for output neuron k = ``digit``
    (default: the most active output neuron, the network's answer) and that k.

    network : a Network, a LayerNetwork (a^L_k: the probability of k) or an Ensemble (the
    mean of its members' probabilities of k). x : ndarray of shape (n_in,) (images flat).
    Raises InputError for a wrong shape, a non-finite x or a digit outside 0..n_out-1.
    """
    net = as_float64(network)
    x = _check_input(net, x)
    if isinstance(net, LayerNetwork):
        return _layer_input_gradient(net, x, digit)
    if isinstance(net, Ensemble):
        return _ensemble_input_gradient(net, x, digit)
    a = [layer[0] for layer in net.activations(x.reshape(1, -1))]      # [x, a^1, ..., a^L]
    out = a[-1]
    k = _digit(digit, out)
    if net.output_activation.name == "softmax":                          # BP1, softmax outputs
        delta = -out[k] * out
        delta[k] += out[k]
    else:                                                                # BP1, elementwise f
        delta = np.zeros_like(out)
        delta[k] = net.output_activation.prime_from_output(out[k:k + 1])[0]
    for l in range(len(net.weights) - 1, 0, -1):                         # BP2, down to layer 1
        delta = (delta @ net.weights[l]) * net.activation.prime_from_output(a[l])
    return delta @ net.weights[0], k                                     # (w^1)^T delta^1


def _layer_input_gradient(net, x, digit):
    """d a^L_k / d x for a float64 LayerNetwork: its layers' backward passes from the softmax."""
    a, caches = x.reshape(1, *net.input_shape), []
    for layer in net.layers:                                             # inference mode
        a, cache = layer.forward(a)
        caches.append(cache)
    p = softmax(a)[0]                                                    # the last a is z^L
    k = _digit(digit, p)
    delta = -p[k] * p                                                    # BP1 at the softmax
    delta[k] += p[k]
    d = delta.reshape(1, -1)
    for layer, cache in zip(reversed(net.layers), reversed(caches)):     # BP2 through every layer
        d, _ = layer.backward(d, cache, need_dx=True)
    return d.reshape(-1), k


def _probability_gradient(member, x, k):
    """d p_k / d x for one float64 ensemble member, p its output probabilities."""
    if isinstance(member, LayerNetwork) or member.output_activation.name == "softmax":
        return input_gradient(member, x, k)[0]
    a = member.feedforward(x.reshape(1, -1))[0]                          # p = a / sum(a)
    total = a.sum()
    grads = np.array([input_gradient(member, x, j)[0] for j in range(len(a))])
    return grads[k] / total - a[k] / total ** 2 * grads.sum(axis=0)     # the quotient rule


def _ensemble_input_gradient(ensemble, x, digit):
    """d p_k / d x of the ensemble's mean probabilities p (float64 members)."""
    k = _digit(digit, ensemble.feedforward(x.reshape(1, -1))[0])
    grads = [_probability_gradient(m, x, k) for m in ensemble.members]
    return np.mean(grads, axis=0), k


def saliency(network, x, digit=None):
    """The map x (.) d a^L_k / d x, shape (n_in,), for output k = ``digit`` or the winner.

    Positive entries are ink that raises output k, negative ones ink that lowers it; their
    sum over a set of pixels is, to first order, how much a^L_k falls if that ink is removed.
    """
    x = _check_input(network, x)
    grad, _ = input_gradient(network, x, digit)
    return x * grad
