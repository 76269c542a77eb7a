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
"""
from __future__ import annotations

import numpy as np

from .errors import InputError
from .trace import float64_copy

__all__ = ["input_gradient", "saliency"]


def _as64(network):
    return network if network.dtype == np.float64 else float64_copy(network)


def _digit(digit, output):
    if digit is None:
        return int(np.argmax(output))
    if isinstance(digit, (bool, np.bool_)) or not isinstance(digit, (int, np.integer)) \
            or not 0 <= digit < len(output):
        raise InputError(f"digit must be an integer 0..{len(output) - 1}, got {digit!r}")
    return int(digit)


def _check_input(network, x):
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (network.sizes[0],):
        raise InputError(f"x must have shape ({network.sizes[0]},) for this network, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError("x must hold finite numbers")
    return x


def input_gradient(network, x, digit=None):
    """``(grad, k)``: grad = d a^L_k / d x, shape (n_in,), for output neuron k = ``digit``
    (default: the most active output neuron, the network's answer) and that k.

    x : ndarray of shape (n_in,). Raises InputError for a wrong shape, a non-finite x or a
    digit outside 0..n_out-1.
    """
    net = _as64(network)
    x = _check_input(net, x)
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


def saliency(network, x, digit=None):
    """The map x (.) d a^L_k / d x, shape (n_in,), for output k = ``digit`` or the winner.

    Positive entries are ink that raises output k, negative ones ink that lowers it; their
    sum over a set of pixels is, to first order, how much a^L_k falls if that ink is removed.
    """
    x = _check_input(network, x)
    grad, _ = input_gradient(network, x, digit)
    return x * grad
