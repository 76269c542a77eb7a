"""An optional compiled (Numba) inner loop for mini-batch SGD: the same step, no per-call overhead.

At mini-batch 10 an epoch of the book's network is 5,000 small steps, and most of a
NumPy step is the ~1 microsecond each NumPy call costs, not arithmetic.  This module
runs whole runs of mini-batches in one compiled function: the same equations as
``Network.backprop`` (BP1-BP4) and ``Network._step``, on preallocated buffers, with
the two big products per layer still done by BLAS (``np.dot`` inside Numba).

It covers the book's network and chapter 3's: sigmoid neurons in every layer, the
quadratic or the cross-entropy cost, optional L2 weight decay, no momentum.  Anything
else, or a machine without Numba and SciPy (``pip install "glassnet[fast]"``), uses the NumPy
path, which stays the reference: tests check that both give the same weights.

Shapes: X (n, n_in) and Y (n, n_out) one sample a row; weights[l] (n_out, n_in).
"""
from __future__ import annotations

import importlib.util

import numpy as np

__all__ = ["available", "supports", "sgd_batches", "compile_seconds"]

_compiled = {}


def available():
    """Whether Numba is installed, with SciPy, whose BLAS Numba's ``np.dot`` calls (both are
    imported only when the kernel is first used)."""
    if "available" not in _compiled:
        _compiled["available"] = all(importlib.util.find_spec(m) is not None for m in ("numba", "scipy"))
    return _compiled["available"]


#: above this mini-batch size the BLAS calls dominate and the NumPy step is as fast or
#: faster (measured: 784-30-10, batch 32: 0.12 s per epoch compiled vs 0.17 s NumPy;
#: batch 50: 0.24 s vs 0.18 s, where Numba's BLAS (SciPy's) and NumPy's start threads)
MAX_BATCH = 32


def supports(network, momentum, mini_batch_size):
    """Whether the compiled loop computes exactly what ``network._step`` would, and pays off."""
    return (available() and not momentum and mini_batch_size <= MAX_BATCH
            and network.activation.name == "sigmoid" and network.output_activation.name == "sigmoid"
            and network.cost.name in ("quadratic", "cross-entropy")
            and network.dtype in (np.float32, np.float64))


def _kernel():
    if "sgd" not in _compiled:
        import numba
        # error_model="numpy": division follows IEEE rules instead of raising, as in NumPy
        _compiled["sgd"] = numba.njit(cache=True, nogil=True, error_model="numpy")(_sgd_batches_py)
    return _compiled["sgd"]


def _sgd_batches_py(X, Y, order, m, eta, decay, cross_entropy, cap, Ws, Bs, As, Ds, Gs, Yb):
    """SGD steps over the mini-batches order[0:m], order[m:2m], ... (the last may be short).

    As[0] (m, n_in) receives the inputs, As[l+1] (m, sizes[l+1]) the activations,
    Ds[l] the errors delta, Gs[l] the weight gradients, Yb (m, n_out) the targets.
    """
    n = order.shape[0]
    L = len(Ws)
    for s in range(0, n, m):
        mm = min(m, n - s)
        rate = eta / mm
        x = As[0]
        for i in range(mm):                       # gather the mini-batch rows
            r = order[s + i]
            x[i, :] = X[r, :]
            Yb[i, :] = Y[r, :]
        for l in range(L):                        # feedforward: a = sigma(w a + b)
            cur = As[l + 1][:mm]
            np.dot(As[l][:mm], Ws[l].T, cur)
            b = Bs[l]
            for i in range(mm):
                for j in range(cur.shape[1]):
                    z = cur[i, j] + b[j]
                    if z < -cap:                  # exp(-z) would overflow; sigma is ~0 there
                        z = -cap
                    cur[i, j] = 1.0 / (1.0 + np.exp(-z))
        a = As[L][:mm]                            # BP1, times eta/m (BP2-BP4 are linear in it)
        d = Ds[L - 1][:mm]
        for i in range(mm):
            for j in range(a.shape[1]):
                e = a[i, j] - Yb[i, j]
                if cross_entropy:
                    d[i, j] = rate * e
                else:
                    d[i, j] = rate * e * a[i, j] * (1.0 - a[i, j])
        for l in range(L - 1, -1, -1):
            d = Ds[l][:mm]
            prev = As[l][:mm]
            if l > 0:                             # BP2, with the weights before this step's update
                dp = Ds[l - 1][:mm]
                np.dot(d, Ws[l], dp)
                for i in range(mm):
                    for j in range(dp.shape[1]):
                        dp[i, j] *= prev[i, j] * (1.0 - prev[i, j])
            g = Gs[l]
            np.dot(d.T, prev, g)                  # BP4: eta/m sum_x delta a^T
            W = Ws[l]
            if decay == 1.0:
                for i in range(W.shape[0]):
                    for j in range(W.shape[1]):
                        W[i, j] -= g[i, j]
            else:                                 # L2: w -> (1 - eta lmbda / n) w - eta/m nabla
                for i in range(W.shape[0]):
                    for j in range(W.shape[1]):
                        W[i, j] = W[i, j] * decay - g[i, j]
            b = Bs[l]
            for j in range(b.shape[0]):           # BP3: eta/m sum_x delta
                t = 0.0
                for i in range(mm):
                    t += d[i, j]
                b[j] -= t


def sgd_batches(network, X, Y, order, mini_batch_size, eta, lmbda=0.0, n=1):
    """Run the SGD steps of the mini-batches ``order`` in compiled code, updating ``network``.

    Equivalent to ``network._step(X[batch], Y[batch], eta, lmbda, n)`` for each batch.
    """
    from numba.typed import List
    dt = network.dtype
    m = int(min(mini_batch_size, len(order)))
    sizes = network.sizes
    As, Ds, Gs, Ws, Bs = List(), List(), List(), List(), List()
    As.append(np.empty((m, sizes[0]), dt))
    for l, (w, b) in enumerate(zip(network.weights, network.biases)):
        As.append(np.empty((m, sizes[l + 1]), dt))
        Ds.append(np.empty((m, sizes[l + 1]), dt))
        Gs.append(np.empty_like(w))
        Ws.append(w)
        Bs.append(b)
    decay = 1.0 - eta * lmbda / n
    cap = float(np.floor(np.log(np.finfo(dt).max)))
    _kernel()(X, Y, np.ascontiguousarray(order, dtype=np.int64), m, dt.type(eta), dt.type(decay),
              network.cost.name == "cross-entropy", dt.type(cap), Ws, Bs, As, Ds, Gs,
              np.empty((m, sizes[-1]), dt))


def compile_seconds():
    """Compile (or load from Numba's cache) the kernel for float32 and float64; return seconds."""
    import time

    from .network import Network
    start = time.perf_counter()
    for dt in (np.float32, np.float64):
        net = Network([4, 3, 2], seed=0, dtype=dt)
        X = np.zeros((5, 4), dt)
        Y = np.zeros((5, 2), dt)
        sgd_batches(net, X, Y, np.arange(5), 2, 0.1)
    return time.perf_counter() - start
