"""Engines: who takes the SGD steps of an epoch and the forward pass of many rows.

An engine computes exactly what the core computes (``Network.step``, ``Network.feedforward``),
faster.  The choice is made here, once per training run or inference call site, from the
network and the settings -- never per call inside the core -- and recorded by the caller
(``engine.name`` goes into the training history and the saved model's header).

    NumpyEngine    the core's own NumPy step, one mini-batch at a time (the reference)
    KernelEngine   the compiled C kernel (``kernel``): sigmoid networks, quadratic or
                   cross-entropy cost, L2, no momentum; runs thousands of mini-batches a call
    LayerKernelEngine  chapter 6's layer networks compiled (``layers_fast``): convolution,
                   pooling, dropout, softmax; plain SGD or momentum

``GLASSNET_KERNEL=off|avx2|portable|auto`` overrides which kernel build loads (``off``:
NumPy only).  Importing this package installs :func:`choose` as ``Network.choose_engine``,
so the book's ``net.SGD(...)`` runs on the kernel where it applies.

Engine protocol (shapes: X (n, n_in), Y (n, n_out), order a permutation of range(n)):

    engine.name                                 "numpy" | "kernel" | "layer-kernel"
    engine.prepare(X) -> engine                 an engine that may keep facts about X (its nonzeros)
    engine.epoch(network, X, Y, order, mini_batch_size, eta, optimizer=None, on_batch=None)
        the mini-batches order[0:m], order[m:2m], ... each stepped by ``optimizer.step``
        (plain ``network.step(Xb, Yb, eta)`` when None); ``on_batch(done, total)`` after
        each mini-batch or run of them.
"""
from __future__ import annotations

import numpy as np

from ..core.layernet import LayerNetwork
from ..core.network import Network
from . import kernel, layers_fast

__all__ = ["NumpyEngine", "KernelEngine", "choose", "forward_for", "predict", "kernel", "layers_fast"]


class NumpyEngine:
    """The core's NumPy step, one mini-batch at a time: the readable reference."""

    name = "numpy"

    def prepare(self, X):
        return self

    def epoch(self, network, X, Y, order, mini_batch_size, eta, optimizer=None, on_batch=None):
        n_batches = -(-len(order) // mini_batch_size)
        for k in range(n_batches):
            batch = order[k * mini_batch_size:(k + 1) * mini_batch_size]
            if optimizer is None:
                network.step(X[batch], Y[batch], eta)
            else:
                optimizer.step(network, X[batch], Y[batch], eta)
            if on_batch is not None:
                on_batch(k + 1, n_batches)

    def __repr__(self):
        return "NumpyEngine()"


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
        lmbda, n = (0.0, 1) if optimizer is None else (optimizer.lmbda, optimizer.n)
        rows = self._rows if X is self._X else None
        n_batches = -(-len(order) // mini_batch_size)
        per_call = max(1, self.EXAMPLES_PER_CALL // mini_batch_size)
        for k in range(0, n_batches, per_call):
            kernel.sgd_batches(network, X, Y, order[k * mini_batch_size:(k + per_call) * mini_batch_size],
                               mini_batch_size, eta, lmbda, n, rows=rows)
            if on_batch is not None:
                on_batch(min(k + per_call, n_batches), n_batches)

    def __repr__(self):
        return f"KernelEngine({kernel.info()!r})"


def choose(network, mini_batch_size, optimizer=None):
    """The engine for training ``network`` with these settings: the kernel when it was
    built, computes the same steps (plain SGD, no momentum) and pays off; else NumPy."""
    if isinstance(network, LayerNetwork):
        if layers_fast.supports(network, int(mini_batch_size), optimizer):
            return layers_fast.LayerKernelEngine()
        return NumpyEngine()
    plain = optimizer is None or getattr(optimizer, "plain", False)
    if plain and kernel.supports(network, 0.0, int(mini_batch_size)):
        return KernelEngine()
    return NumpyEngine()


def forward_for(network, X):
    """The forward pass to use for ``network`` on data like X (n, n_in), chosen once for
    a call site: ``kernel.forward`` for mostly-zero inputs of small sigmoid networks (judged
    on up to 64 rows spread over X), else ``network.feedforward``.  Returns ``(name, fn)``."""
    X = np.asarray(X)
    if isinstance(network, LayerNetwork):
        if layers_fast.supports(network, 1):
            return "layer-kernel", lambda rows: layers_fast.forward(network, rows)
        return "numpy", network.feedforward
    if X.ndim == 2 and kernel.supports_forward(network, X):
        return "kernel", lambda rows: kernel.forward(network, rows)
    return "numpy", network.feedforward


def predict(network, X, chunk=10000):
    """Predicted class (m,) for every row of X (m, n_in), a chunk of rows at a time, through
    the forward pass chosen once for X (``forward_for``)."""
    forward = forward_for(network, X)[1]
    if not len(X):
        return np.zeros(0, np.int64)
    return np.concatenate([np.argmax(forward(X[i:i + chunk]), axis=1) for i in range(0, len(X), chunk)])


Network.choose_engine = choose
