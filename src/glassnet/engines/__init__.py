"""Engines: who takes the SGD steps of an epoch and the forward pass of many rows.

An engine computes exactly what the core computes (``Network.step``, ``Network.feedforward``),
faster.  The choice is made here, once per training run or inference call site, from the
network and the settings -- never per call inside the core -- and recorded by the caller
(``engine.name`` goes into the training history and the saved model's header).

    NumpyEngine    the core's own NumPy step, one mini-batch at a time (the reference)
    KernelEngine   the compiled C kernel (``kernel``): sigmoid networks, quadratic or
                   cross-entropy cost, L2, no momentum; runs thousands of mini-batches a call
    LayerKernelEngine  chapter 6's layer networks compiled (``layers_fast``): convolution,
                   pooling, dropout, softmax, and core.modern's padded/strided convolution,
                   batch normalisation, max/avg/global pooling; plain SGD, momentum or Adam

``GLASSNET_KERNEL=off|avx2|portable|auto`` overrides which kernel build loads (``off``:
NumPy only).  Importing this package registers the two kernels with the core's engine
registry (``core.model.register_engine``), so ``engine="auto"`` -- the default of the
book's ``net.SGD(...)`` and of ``fit`` -- runs on a kernel where one applies; ``"numpy"``
asks for the core's own steps.  The engine protocol is described at
``core.model.NumpyEngine``.
"""

from __future__ import annotations

import numpy as np

from ..core.model import NumpyEngine, register_engine, resolve_engine
from . import kernel, layers_fast

__all__ = ["NumpyEngine", "KernelEngine", "choose", "forward_for", "predict", "kernel", "layers_fast"]


class KernelEngine:
    """The compiled kernel: the same steps as ``Network.step`` (plain SGD with L2 decay)."""

    name = "kernel"
    #: mini-batches per call into the kernel (one progress report and stop check each)
    EXAMPLES_PER_CALL = 20000

    def __init__(self, X=None, rows=None):
        self._X, self._rows = X, rows

    def prepare(self, X):
        """An engine that knows X's nonzeros (made once, for every epoch over this very X)."""
        return KernelEngine(X, kernel.SparseRows.of(X))

    def epoch(self, network, X, Y, order, mini_batch_size, eta, optimizer=None, on_batch=None):
        """The epoch's steps, ``per_call`` mini-batches a call; with a rate per mini-batch
        (``eta`` an array (n_batches,)), a call for each run of equal rates (one-cycle: a
        call a mini-batch, still the kernel's step)."""
        lmbda, n = (0.0, 1) if optimizer is None else (optimizer.l2, optimizer.n)
        rows = self._rows if X is self._X else None
        m = mini_batch_size
        n_batches = -(-len(order) // m)
        per_call = max(1, self.EXAMPLES_PER_CALL // m)
        etas = np.broadcast_to(np.asarray(eta, np.float64), (n_batches,))
        k = 0
        while k < n_batches:
            end = min(k + per_call, n_batches)
            end = k + 1 + int(np.argmax(np.append(etas[k + 1 : end] != etas[k], True)))  # equal rates
            kernel.sgd_batches(network, X, Y, order[k * m : end * m], m, float(etas[k]), lmbda, n, rows=rows)
            k = end
            if on_batch is not None:
                on_batch(k, n_batches)

    def __repr__(self):
        return f"KernelEngine({kernel.info()!r})"


def _kernel_engine(network, mini_batch_size, optimizer=None):
    """The compiled kernel when it was built, computes these steps (plain SGD, no momentum)
    and pays off; else None."""
    plain = optimizer is None or getattr(optimizer, "plain", False)
    return KernelEngine() if plain and kernel.supports(network, 0.0, mini_batch_size) else None


def _layer_kernel_engine(network, mini_batch_size, optimizer=None):
    """The compiled layer kernel when it runs this network with these settings; else None."""
    return layers_fast.LayerKernelEngine() if layers_fast.supports(network, mini_batch_size, optimizer) else None


register_engine(_kernel_engine)
register_engine(_layer_kernel_engine)


def choose(network, mini_batch_size, optimizer=None):
    """The engine for training ``network`` with these settings (``resolve_engine("auto")``):
    a compiled kernel that computes the same steps and pays off, else NumPy."""
    return resolve_engine("auto", network, mini_batch_size, optimizer)


#: ``offer(network, X, threads) -> (name, fn) or None``: the faster forward passes, asked in order
FORWARDS = [
    lambda net, X, threads: (
        ("layer-kernel", lambda rows: layers_fast.forward(net, rows, threads)) if layers_fast.supports(net, 1) else None
    ),
    lambda net, X, threads: (
        ("kernel", lambda rows: kernel.forward(net, rows, threads))
        if X.ndim == 2 and kernel.supports_forward(net, X)
        else None
    ),
]


def forward_for(network, X, threads=None):
    """The forward pass to use for ``network`` on data like X (n, n_in), chosen once for
    a call site: a compiled kernel's (``FORWARDS``: the sigmoid kernel for mostly-zero inputs
    of small sigmoid networks, judged on up to 64 rows spread over X; the layer kernel for the
    layer networks it runs; on ``threads`` threads, default all), else ``network.feedforward``.
    Returns ``(name, fn)``."""
    X = np.asarray(X)
    for offer in FORWARDS:
        chosen = offer(network, X, threads)
        if chosen is not None:
            return chosen
    return "numpy", network.feedforward


def predict(network, X, chunk=10000):
    """Predicted class (m,) for every row of X (m, n_in), a chunk of rows at a time: the
    argmax of the compiled forward pass chosen once for X (``forward_for``) where one
    applies, else the model's own ``predict`` (an ensemble's by its rule)."""
    name, forward = forward_for(network, X)
    if not len(X):
        return np.zeros(0, np.int64)
    if name == "numpy":
        return np.concatenate([network.predict(X[i : i + chunk]) for i in range(0, len(X), chunk)])
    return np.concatenate([np.argmax(forward(X[i : i + chunk]), axis=1) for i in range(0, len(X), chunk)])
