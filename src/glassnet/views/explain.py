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

Every model computes its own ``input_gradient`` (``core.model``: the BP above in its own
layers); this module checks the input and the digit and makes the map.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["input_gradient", "saliency", "as_float64"]


def as_float64(network):
    """``network`` in float64 (itself when it is already), for explaining it many times
    without a copy each time: any model (an ensemble: of copies of its members)."""
    if all(m.dtype == np.float64 for m in network.members):
        return network
    return network.astype(np.float64)


def _check_input(network, x):
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (network.n_in,):
        raise InputError(f"x must have shape ({network.n_in},) for this network, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError("x must hold finite numbers")
    return x


def input_gradient(network, x, digit=None):
    """``(grad, k)``: grad = d a^L_k / d x, shape (n_in,), for output neuron k = ``digit``
    (default: the most active output neuron, the network's answer) and that k.

    network : any model (a LayerNetwork's a^L_k is the probability of k; an Ensemble's the
    mean of its members' probabilities of k). x : ndarray of shape (n_in,) (images flat).
    Raises InputError for a wrong shape, a non-finite x or a digit outside 0..n_out-1.
    """
    net = as_float64(network)
    return net.input_gradient(_check_input(net, x), digit)


def saliency(network, x, digit=None):
    """The map x (.) d a^L_k / d x, shape (n_in,), for output k = ``digit`` or the winner.

    Positive entries are ink that raises output k, negative ones ink that lowers it; their
    sum over a set of pixels is, to first order, how much a^L_k falls if that ink is removed.
    """
    x = _check_input(network, x)
    grad, _ = input_gradient(network, x, digit)
    return x * grad
