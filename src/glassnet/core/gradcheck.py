"""Check backpropagation against the book's finite-difference estimate (eq. 2.21).

The book's estimate, taken symmetrically (central differences, ``order=2``):

    dC/dw_j  ~  (C(w + eps e_j) - C(w - eps e_j)) / (2 eps)

and by default its fourth-order refinement, the five-point central stencil (``order=4``):

    dC/dw_j  ~  (C(w - 2 eps e_j) - 8 C(w - eps e_j) + 8 C(w + eps e_j) - C(w + 2 eps e_j)) / (12 eps)

whose truncation error is O(eps^4) instead of O(eps^2), so eps can be large enough
that rounding (~1e-16 |C| / eps) no longer swamps the tiny gradients deep in a network.

Run it in float64: in float32 the finite differences themselves are only good to ~1e-3.
"""
from __future__ import annotations

import numpy as np

__all__ = ["gradient_check"]


def gradient_check(network, X, Y, *, eps=None, order=4, max_params=None, rng=None):
    """Worst relative error between backprop's gradient and central differences.

    Parameters
    ----------
    network : Network (float64 recommended); its parameters are restored afterwards.
    X : ndarray of shape (m, n_in);  Y : ndarray of shape (m, n_out) (targets).
    eps : the finite-difference step (default 1e-3 for order 4, 1e-4 for order 2).
    order : 4 (five-point stencil, default) or 2 (plain central differences).
    max_params : check only this many parameters per array, chosen by ``rng``
        (default: every parameter).

    Returns
    -------
    float : max over the checked parameters of |g_bp - g_fd| / max(|g_bp| + |g_fd|, 1e-12)
        -- the symmetric relative error, 0 for a perfect match.
    """
    if order not in (2, 4):
        raise ValueError(f"order must be 2 or 4, got {order}")
    eps = (1e-3 if order == 4 else 1e-4) if eps is None else eps
    stencil = [(1, 1), (-1, -1)] if order == 2 else [(2, -1), (1, 8), (-1, -8), (-2, 1)]
    denominator = 2 * eps if order == 2 else 12 * eps
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
                total = 0.0
                for step, weight in stencil:
                    flat[i] = saved + step * eps
                    total += weight * cost()
                flat[i] = saved
                numeric = total / denominator
                err = abs(gflat[i] - numeric) / max(abs(gflat[i]) + abs(numeric), 1e-12)
                worst = max(worst, float(err))
    return worst
