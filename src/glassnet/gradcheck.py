"""Check backpropagation against the book's finite-difference estimate (eq. 2.21).

    dC/dw_j  ~  (C(w + eps e_j) - C(w - eps e_j)) / (2 eps)      (central differences)

Run it in float64: in float32 the finite differences themselves are only good to ~1e-3.
"""
from __future__ import annotations

import numpy as np

__all__ = ["gradient_check"]


def gradient_check(network, X, Y, *, eps=1e-4, max_params=None, rng=None):
    """Worst relative error between backprop's gradient and central differences.

    Parameters
    ----------
    network : Network (float64 recommended); its parameters are restored afterwards.
    X : ndarray of shape (m, n_in);  Y : ndarray of shape (m, n_out) (targets).
    eps : the finite-difference step.  1e-4 balances the O(eps^2) truncation error of
        central differences against rounding (~1e-16 |C| / eps), which swamps the tiny
        gradients deep in a sigmoid network when eps is smaller.
    max_params : check only this many parameters per array, chosen by ``rng``
        (default: every parameter).

    Returns
    -------
    float : max over the checked parameters of |g_bp - g_fd| / max(|g_bp| + |g_fd|, 1e-12)
        -- the symmetric relative error, 0 for a perfect match.
    """
    X = np.atleast_2d(np.asarray(X, dtype=network.dtype))
    Y = np.atleast_2d(np.asarray(Y, dtype=network.dtype))
    rng = np.random.default_rng(rng)
    nabla_b, nabla_w = network.backprop(X, Y)

    def cost():
        return network.cost(network.feedforward(X), Y)

    worst = 0.0
    for params, grads in ((network.weights, nabla_w), (network.biases, nabla_b)):
        for p, g in zip(params, grads):
            flat, gflat = p.reshape(-1), g.reshape(-1)   # views: writing flat changes p
            idx = np.arange(flat.size)
            if max_params is not None and flat.size > max_params:
                idx = rng.choice(flat.size, size=max_params, replace=False)
            for i in idx:
                saved = flat[i]
                flat[i] = saved + eps
                c_plus = cost()
                flat[i] = saved - eps
                c_minus = cost()
                flat[i] = saved
                numeric = (c_plus - c_minus) / (2 * eps)
                err = abs(gflat[i] - numeric) / max(abs(gflat[i]) + abs(numeric), 1e-12)
                worst = max(worst, float(err))
    return worst
