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

__all__ = ["gradient_check", "worst_difference"]

#: the central-difference stencils: order -> ([(step, weight), ...], denominator in units of eps)
STENCILS = {2: ([(1, 1), (-1, -1)], 2), 4: ([(2, -1), (1, 8), (-1, -8), (-2, 1)], 12)}


def worst_difference(params, grads, cost, *, eps, order=4, max_params=None, rng=None, floor=1e-12):
    """max |g - g_fd| / max(|g| + |g_fd|, floor) over the entries of ``params``, where g is the
    matching entry of ``grads`` and g_fd the central-difference estimate of dC/dp from the
    stencil of ``order`` (``STENCILS``) with step ``eps``; ``cost()`` computes C with the
    parameters as they stand.  Each entry is moved in place and restored.  ``max_params``
    checks only that many entries per array, chosen by ``rng`` (a seed or Generator)."""
    if order not in STENCILS:
        raise ValueError(f"order must be 2 or 4, got {order}")
    stencil, units = STENCILS[order]
    rng = np.random.default_rng(rng)
    worst = 0.0
    for p, g in zip(params, grads):
        flat, gflat = p.reshape(-1), g.reshape(-1)  # views: writing flat changes p
        idx = np.arange(flat.size)
        if max_params is not None and flat.size > max_params:
            idx = rng.choice(flat.size, size=max_params, replace=False)
        for i in idx:
            saved, total = flat[i], 0.0
            for step, weight in stencil:
                flat[i] = saved + step * eps
                total += weight * cost()
            flat[i] = saved
            numeric = total / (units * eps)
            worst = max(worst, float(abs(gflat[i] - numeric) / max(abs(gflat[i]) + abs(numeric), floor)))
    return worst


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
    if order not in STENCILS:
        raise ValueError(f"order must be 2 or 4, got {order}")
    eps = (1e-3 if order == 4 else 1e-4) if eps is None else eps
    X = np.atleast_2d(np.asarray(X, dtype=network.dtype))
    Y = np.atleast_2d(np.asarray(Y, dtype=network.dtype))
    nabla_b, nabla_w = network.backprop(X, Y)
    return worst_difference(
        network.weights + network.biases,
        nabla_w + nabla_b,
        lambda: network.cost(network.feedforward(X), Y),
        eps=eps,
        order=order,
        max_params=max_params,
        rng=rng,
    )
