"""The network of Nielsen's chapters 1-3, computed a whole mini-batch at a time.

Glossary (book symbol -> code name), with one sample a row:

    x, y           X (m, n_in), Y (m, n_out)   inputs and desired outputs of a mini-batch
    w^l, b^l       weights[l] (n_out, n_in), biases[l] (n_out,)   -- the book's w_jk and b_j
                   (b a vector, not the book's column (n_out, 1): see ``Network``)
    z^l = w a + b  Z = A_prev @ W.T + b        (m, n_out)       eq. 25, a row per sample
    a^l = sigma(z) A = sigma(Z)                (m, n_out)
    BP1  delta^L = grad_a C (.) sigma'(z^L)    delta = (A - Y) * sigma'(Z)   (quadratic cost)
    BP2  delta^l = ((w^{l+1})^T delta^{l+1}) (.) sigma'(z^l)
                                               delta = (delta_next @ W_next) * sigma'(Z)
    BP3  dC/db^l = delta^l                     nabla_b = delta.sum(axis=0)  (summed over the batch)
    BP4  dC/dw^l = delta^l (a^{l-1})^T         nabla_w = delta.T @ A_prev   (summed over the batch)

Summing BP3 and BP4 over the rows of delta is exactly the sum of the book's
per-example gradients: the "fully matrix-based approach" of chapter 2's problem.
The list index ``l`` counts weight layers from 0 (the book's layer l+2).

This module is the core: it imports only NumPy, the core's ``functions`` and
``dataforms``. Nothing here chooses speed: ``SGD`` takes an ``engine`` (see
``glassnet.engines``) or runs the NumPy steps below, which are the reference.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .dataforms import as_arrays, one_hot
from .functions import Activation, Cost, get_activation, get_cost
from .model import register_kind, resolve_engine
from .network_model import NetworkModel

__all__ = ["Network", "as_arrays", "one_hot"]

INITS = {
    "standard": lambda n: 1.0,  # the book's chapter 1: N(0, 1)
    "scaled": lambda n: 1 / np.sqrt(n),  # chapter 3: N(0, 1/n_in)
    "he": lambda n: np.sqrt(2 / n),
}  # for ReLU: N(0, 2/n_in)


@register_kind
class Network(NetworkModel):
    """A feedforward network of sigmoid neurons trained by mini-batch SGD.

    The book's methods are here; what every glassnet model also answers (its sizes,
    parameters in one order, header, probabilities, descriptions: ``core.model``) is in
    ``NetworkModel``, written in terms of ``sizes``, ``weights`` and ``biases``.

    Parameters
    ----------
    sizes : list of int
        Neurons per layer, input first: ``[784, 30, 10]`` is the book's network.
    seed : int or None
        Seeds the one ``numpy.random.Generator`` (``self.rng``) that draws the initial
        weights and shuffles every epoch.  Recorded as ``self.seed``.
    weights, biases : lists of arrays, optional
        Start from given parameters instead (the primer's demos): ``weights[l]`` of
        shape (sizes[l+1], sizes[l]) and ``biases[l]`` of shape (sizes[l+1],) or the
        book's column (sizes[l+1], 1).
    dtype : numpy float dtype, optional
        float32 by default; float64 by default when weights are given as Python floats.
    cost : "quadratic" (the book's, default), "cross-entropy" or "log-likelihood".
    activation : hidden-layer activation, "sigmoid" (default), "tanh" or "relu".
    output_activation : "sigmoid" by default, "softmax" by default with log-likelihood.
    init : "standard" (the book's N(0, 1), default), "scaled" (chapter 3) or "he".

    Biases are vectors (n_out,), a sample a row: z = w a + b is ``a @ w.T + b`` for rows, and
    the book's ``np.dot(w, a) + b`` works as printed on a vector a (n_in,).  On the book's
    column a (n_in, 1) (``mnist_loader``'s x) write ``np.dot(w, a) + b[:, None]``: NumPy turns
    (n_out, 1) + (n_out,) into (n_out, n_out) without a word.  ``network2.Network`` keeps the
    book's (n_out, 1) columns, so there its expressions run as printed.  ``history``: the
    per-epoch records of the last ``SGD`` call.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        seed: int | None = None,
        weights: Sequence | None = None,
        biases: Sequence | None = None,
        dtype: DTypeLike | None = None,
        cost: str | Cost = "quadratic",
        activation: str | Activation = "sigmoid",
        output_activation: str | Activation | None = None,
        init: str = "standard",
    ) -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list at least two layer sizes, each > 0, got {sizes}")
        self.sizes, self.num_layers, self.seed = sizes, len(sizes), seed
        self.rng = np.random.default_rng(seed)
        self.history: list[dict] = []  # the last SGD call's records, one per epoch
        self.cost = get_cost(cost)
        self.activation = get_activation(activation)
        if output_activation is None:
            output_activation = "softmax" if self.cost.name == "log-likelihood" else "sigmoid"
        self.output_activation = get_activation(output_activation)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
        self.init = init
        if (weights is None) != (biases is None):
            raise ValueError("give both weights and biases, or neither")
        self.dtype: Any
        if weights is None or biases is None:
            self.dtype = np.dtype(dtype or np.float32)
            # N(0, 1) biases and (scaled) N(0, 1) weights, layer by layer, from the one Generator
            self.weights, self.biases = [], []
            for n_in, n_out in zip(sizes[:-1], sizes[1:]):
                self.biases.append(self.rng.standard_normal(n_out).astype(self.dtype))
                self.weights.append((self.rng.standard_normal((n_out, n_in)) * INITS[init](n_in)).astype(self.dtype))
        else:
            self.dtype = np.dtype(dtype or np.result_type(*[np.asarray(w) for w in weights], np.float32))
            self.weights = [np.array(w, dtype=self.dtype, order="C", ndmin=2) for w in weights]
            self.biases = [np.array(b, dtype=self.dtype).reshape(-1) for b in biases]
            self._check_parameters()

    # -- the network's function ------------------------------------------------
    def feedforward(self, a: ArrayLike) -> np.ndarray:
        """The network's output for input ``a`` (book eq. 22, applied layer by layer).

        ``a`` of shape (n_in,) gives (n_out,); the book's column (n_in, 1) gives
        (n_out, 1); a batch (m, n_in) gives (m, n_out), one sample a row.
        """
        a = np.asarray(a, dtype=self.dtype)
        column = a.ndim == 2 and a.shape[1] == 1 and a.shape[0] == self.sizes[0] != 1
        A = a.reshape(1, -1) if a.ndim == 1 or column else a
        if A.ndim != 2 or A.shape[1] != self.sizes[0]:
            raise ValueError(f"input must have {self.sizes[0]} features, got shape {a.shape}")
        A = self.activations(A)[-1]
        return A[0] if a.ndim == 1 else (A.T if column else A)

    def activations(self, X: np.ndarray) -> list[np.ndarray]:
        """Every layer's activations for a batch X (m, n_in): ``[X, A^2, ..., A^L]``.

        The feedforward pass of backprop: Z = A W^T + b, A = sigma(Z), layer by layer;
        A^l has shape (m, sizes[l]).  Also what you look at to see inside the network.
        """
        activations = [X]
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            Z = activations[-1] @ w.T
            Z += b
            act = self.output_activation if l == len(self.weights) - 1 else self.activation
            activations.append(act(Z, out=Z))
        return activations

    def evaluate(self, test_data) -> int:
        """Number of test inputs for which the network's output is correct (the book's count).

        ``test_data`` is the book's list of ``(x, label)`` pairs or a pair ``(X, labels)``.
        """
        X, labels = as_arrays(test_data, self.sizes[0], self.sizes[-1], self.dtype, targets="labels")
        return self.measure(X, labels)[1]

    def cost_derivative(self, output_activations: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dC_x/da for the output activations: (a - y) for the book's quadratic cost."""
        return self.cost.derivative(output_activations, y)

    # -- learning --------------------------------------------------------------
    def backprop(self, x: ArrayLike, y: ArrayLike, scale: float = 1.0) -> tuple[list, list]:
        """Gradient of the cost, summed over a mini-batch, by backpropagation.

        ``x`` is one input (n_in,) / (n_in, 1) with its target ``y`` (n_out,) / (n_out, 1),
        or a batch X (m, n_in) with Y (m, n_out).  Returns ``(nabla_b, nabla_w)``, lists
        shaped like ``biases`` and ``weights``: sum over the batch of dC_x/db and dC_x/dw,
        times ``scale`` (a step passes eta/m, which saves scaling every array afterwards).
        """
        X = np.asarray(x, dtype=self.dtype)
        Y = np.asarray(y, dtype=self.dtype)
        if X.ndim == 1 or (X.ndim == 2 and X.shape[1] == 1 and X.shape[0] == self.sizes[0] != 1):
            X, Y = X.reshape(1, -1), Y.reshape(1, -1)
        activations = self.activations(X)
        L = len(self.weights)
        nabla_b, nabla_w = [None] * L, [None] * L
        # BP1: delta^L = grad_a C (.) sigma'(z^L), with sigma'(z) computed from a = sigma(z)
        delta = self.cost.delta(activations[-1], Y, self.output_activation)
        if scale != 1.0:
            delta *= self.dtype.type(scale)  # BP2-BP4 are linear in delta^L: this scales them all
        for l in range(L - 1, -1, -1):
            if l < L - 1:
                # BP2: delta^l = (delta^{l+1} W^{l+1}) (.) sigma'(z^l)
                delta = delta @ self.weights[l + 1]
                delta *= self.activation.prime_from_output(activations[l + 1])
            nabla_b[l] = delta.sum(axis=0)  # BP3: dC/db^l = delta^l, summed over the batch
            nabla_w[l] = delta.T @ activations[l]  # BP4: dC/dw^l = delta^l (a^{l-1})^T, summed
        return nabla_b, nabla_w

    def update_mini_batch(self, mini_batch, eta: float, lmbda: float = 0.0, n: int | None = None) -> None:
        """One step of gradient descent on a mini-batch (book eq. 20-21).

        ``mini_batch`` is a list of ``(x, y)`` pairs or a pair ``(X, Y)``.  With ``lmbda``
        > 0 the weights first decay by (1 - eta lmbda / n) (L2, book eq. 93; ``n`` is the
        training-set size).
        """
        X, Y = as_arrays(mini_batch, self.sizes[0], self.sizes[-1], self.dtype)
        self.step(X, Y, eta, lmbda, n or len(X))

    def gradients(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        scale: float = 1.0,
        lmbda: float = 0.0,
        n: int = 1,
        masks: list | None = None,
    ) -> list[np.ndarray]:
        """``scale`` times the mean gradient of the cost over the mini-batch X (m, n_in),
        Y (m, n_out): [dC/dw0, dC/db0, dC/dw1, ...] in ``parameters()`` order.  The L2 term
        is not in it: this network's L2 rule is the weight decay of ``decay``.  ``masks``
        is unused (no dropout)."""
        nabla_b, nabla_w = self.backprop(X, Y, scale=scale / len(X))
        return [g for nw, nb in zip(nabla_w, nabla_b) for g in (nw, nb)]

    def decay(self, eta: float, lmbda: float, n: int) -> None:
        """L2 as the book writes it (eq. 93): every weight times (1 - eta lmbda / n)."""
        if lmbda:
            decay = self.dtype.type(1 - eta * lmbda / n)
            for w in self.weights:
                w *= decay

    def step(self, X: np.ndarray, Y: np.ndarray, eta: float, lmbda: float = 0.0, n: int = 1) -> None:
        """``update_mini_batch`` on arrays X (m, n_in), Y (m, n_out):
        w -> (1 - eta lmbda / n) w - eta/m sum_x dC_x/dw,  b -> b - eta/m sum_x dC_x/db."""
        grads = self.gradients(X, Y, scale=eta)  # already times eta/m
        self.decay(eta, lmbda, n)
        for p, g in zip(self.parameters(), grads):
            p -= g

    def SGD(
        self,
        training_data,
        epochs: int,
        mini_batch_size: int,
        eta: float,
        test_data=None,
        *,
        log: Callable[[str], object] | None = print,
        engine="auto",
    ) -> None:
        """Train by mini-batch stochastic gradient descent (the book's ``SGD``).

        Each epoch shuffles the training data with the network's Generator, splits it
        into mini-batches of ``mini_batch_size`` (the last may be smaller) and takes a
        gradient step on each.  With ``test_data`` it reports ``Epoch {j}: {correct} / {n}``
        after each epoch, else ``Epoch {j} complete``, through ``log`` (``print`` like the
        book; None for silence).  ``engine`` takes the steps of an epoch (default: the one
        ``choose_engine`` picks, else ``step`` one mini-batch at a time); every engine
        computes what ``step`` computes.

        Returns None, as the book's does (so nothing is echoed after the transcript at the
        ``>>>`` prompt or in a notebook).  The run's record is ``self.history``: one dict per
        epoch of this call -- epoch, seconds (of the steps), engine, and with test data
        correct, total and accuracy.
        """
        epochs, m = int(epochs), int(mini_batch_size)
        if epochs < 0 or m < 1 or not eta > 0:
            raise ValueError(f"need epochs >= 0, mini_batch_size >= 1 and eta > 0, got {epochs}, {m}, {eta}")
        X, Y = as_arrays(training_data, self.sizes[0], self.sizes[-1], self.dtype)
        test = (
            None
            if test_data is None
            else as_arrays(test_data, self.sizes[0], self.sizes[-1], self.dtype, targets="labels")
        )
        engine = resolve_engine(engine, self, m).prepare(X) if epochs else None
        self.history = history = []
        for j in range(epochs):
            started = time.perf_counter()
            order = self.rng.permutation(len(X))
            engine.epoch(self, X, Y, order, m, eta)
            record = {"epoch": j, "seconds": time.perf_counter() - started, "engine": engine.name}
            if test:
                correct = self.evaluate(test)
                record.update(correct=correct, total=len(test[1]), accuracy=correct / len(test[1]))
            history.append(record)
            if log is not None:
                log(f"Epoch {j}: {record['correct']} / {record['total']}" if test else f"Epoch {j} complete")
