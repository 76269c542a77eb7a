"""The network of Nielsen's chapters 1-2, computed a whole mini-batch at a time.

Glossary (book symbol -> code name), with one sample a row:

    x, y           X (m, n_in), Y (m, n_out)   inputs and desired outputs of a mini-batch
    w^l, b^l       weights[l] (n_out, n_in), biases[l] (n_out,)   -- the book's w_jk and b_j
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

This module is the core: it imports only NumPy and ``functions``.
"""
from __future__ import annotations

import time

import numpy as np

from . import kernels
from .functions import get_activation, get_cost, sigmoid, sigmoid_prime

__all__ = ["Network", "sigmoid", "sigmoid_prime", "as_arrays", "one_hot", "LabelError"]


class LabelError(ValueError):
    """Labels that are not integers in 0..n_classes-1."""


def one_hot(labels, n_classes=10, dtype=np.float32):
    """The book's ``vectorized_result`` for a whole label array.

    labels : array-like of shape (m,), integers in 0..n_classes-1
    Returns an ndarray of shape (m, n_classes): row i is 0 except a 1 in column labels[i].
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise LabelError(f"labels must be a 1-D integer array, got {labels.dtype} of shape {labels.shape}")
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        i = int(bad[0])
        raise LabelError(f"labels must lie in 0..{n_classes - 1}, got {labels[i]} at index {i}")
    out = np.zeros((len(labels), n_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def as_arrays(data, n_in, n_out, dtype, *, targets="onehot"):
    """Turn training or test data into contiguous arrays.

    ``data`` is either the book's list of ``(x, y)`` pairs -- x of shape (n_in,) or
    (n_in, 1), y a one-hot column (n_out, 1), a vector (n_out,) or an integer label --
    or, the fast path, a pair of arrays ``(X, Y)`` with X of shape (m, n_in) and Y of
    shape (m, n_out) (targets) or (m,) (integer labels).

    Returns ``(X, T)``: X of shape (m, n_in) in ``dtype``; T of shape (m, n_out) in
    ``dtype`` when ``targets="onehot"``, or integer labels (m,) when ``targets="labels"``.
    """
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray) and data[0].ndim == 2:
        X, Y = data[0], np.asarray(data[1])
    else:
        pairs = list(data)
        if not pairs:
            raise ValueError("the data set is empty")
        try:
            X = np.stack([np.asarray(x, dtype=dtype).reshape(-1) for x, _ in pairs])
            ys = [np.asarray(y) for _, y in pairs]
        except (TypeError, ValueError) as e:
            raise ValueError(f"data must be a list of (x, y) pairs or a pair of arrays (X, Y): {e}") from None
        Y = np.array([y.item() for y in ys]) if all(y.size == 1 and np.issubdtype(y.dtype, np.integer)
                                                    for y in ys) \
            else np.stack([y.reshape(-1) for y in ys])
    X = np.ascontiguousarray(X, dtype=dtype)
    Y = np.asarray(Y)
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"inputs must have shape (m, {n_in}) for this network, got {X.shape}")
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"{X.shape[0]} inputs but {Y.shape[0]} targets")
    if Y.ndim == 1:
        if not np.issubdtype(Y.dtype, np.integer):
            raise ValueError(f"1-D targets must be integer labels, got {Y.dtype}")
        return (X, Y) if targets == "labels" else (X, one_hot(Y, n_out, dtype))
    if Y.ndim != 2 or Y.shape[1] != n_out:
        raise ValueError(f"targets must have shape (m, {n_out}) or (m,), got {Y.shape}")
    if targets == "labels":
        return X, np.argmax(Y, axis=1)
    return X, np.ascontiguousarray(Y, dtype=dtype)


class Network:
    """A feedforward network of sigmoid neurons trained by mini-batch SGD.

    Parameters
    ----------
    sizes : list of int
        Neurons per layer, input first: ``[784, 30, 10]`` is the book's network.
    seed : int or None
        Seeds the one ``numpy.random.Generator`` that draws the initial weights and
        shuffles every epoch.  Recorded as ``self.seed``.
    weights, biases : lists of arrays, optional
        Start from given parameters instead (the primer's demos): ``weights[l]`` of
        shape (sizes[l+1], sizes[l]) and ``biases[l]`` of shape (sizes[l+1],) or the
        book's column (sizes[l+1], 1).
    dtype : numpy float dtype, optional
        float32 by default; float64 by default when weights are given as Python floats.
    cost : "quadratic" (the book's, default), "cross-entropy" or "log-likelihood".
    activation : hidden-layer activation, "sigmoid" (default), "tanh" or "relu".
    output_activation : output-layer activation: "sigmoid" by default, "softmax" by
        default with the log-likelihood cost.
    init : "standard" -- the book's N(0, 1) for weights and biases (default);
        "scaled" -- weights N(0, 1/n_in) (chapter 3); "he" -- N(0, 2/n_in) (for ReLU).
    engine : "auto" (default) runs SGD epochs and large forward passes through the
        compiled kernel of ``kernels`` when it was built and covers the network;
        "numpy" always uses the readable NumPy code below (the reference the compiled
        kernel is tested against).
    """

    def __init__(self, sizes, *, seed=None, weights=None, biases=None, dtype=None,
                 cost="quadratic", activation="sigmoid", output_activation=None, init="standard",
                 engine="auto"):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list at least two layer sizes, each > 0, got {sizes}")
        self.sizes = sizes
        self.num_layers = len(sizes)
        self.seed = seed
        if engine not in ("auto", "numpy"):
            raise ValueError(f"engine must be 'auto' or 'numpy', got {engine!r}")
        self.engine = engine
        self.rng = np.random.default_rng(seed)
        self.cost = get_cost(cost)
        self.activation = get_activation(activation)
        if output_activation is None:
            output_activation = "softmax" if self.cost.name == "log-likelihood" else "sigmoid"
        self.output_activation = get_activation(output_activation)
        self.init = init
        if weights is None and biases is None:
            self.dtype = np.dtype(dtype or np.float32)
            self.weights, self.biases = self._initial_parameters(init)
        elif weights is None or biases is None:
            raise ValueError("give both weights and biases, or neither")
        else:
            self.dtype = np.dtype(dtype or np.result_type(*[np.asarray(w) for w in weights], np.float32))
            self.weights = [np.array(w, dtype=self.dtype, order="C", ndmin=2) for w in weights]
            self.biases = [np.array(b, dtype=self.dtype).reshape(-1) for b in biases]
            self._check_parameters()

    # -- set-up ----------------------------------------------------------------
    def _initial_parameters(self, init):
        scale = {"standard": lambda n: 1.0, "scaled": lambda n: 1 / np.sqrt(n),
                 "he": lambda n: np.sqrt(2 / n)}
        if init not in scale:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(scale)}")
        weights, biases = [], []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            # N(0, 1) biases and (scaled) N(0, 1) weights, layer by layer, from the one Generator
            biases.append(self.rng.standard_normal(n_out).astype(self.dtype))
            w = self.rng.standard_normal((n_out, n_in)) * scale[init](n_in)
            weights.append(w.astype(self.dtype))
        return weights, biases

    def _check_parameters(self):
        if len(self.weights) != self.num_layers - 1 or len(self.biases) != self.num_layers - 1:
            raise ValueError(f"sizes {self.sizes} need {self.num_layers - 1} weight matrices and bias "
                             f"vectors, got {len(self.weights)} and {len(self.biases)}")
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            want = (self.sizes[l + 1], self.sizes[l])
            if w.shape != want or b.shape != want[:1]:
                raise ValueError(f"layer {l}: weights must have shape {want} and biases ({want[0]},), "
                                 f"got {w.shape} and {b.shape}")

    # -- the network's function ------------------------------------------------
    def feedforward(self, a):
        """The network's output for input ``a`` (book eq. 22, applied layer by layer).

        ``a`` of shape (n_in,) gives (n_out,); the book's column (n_in, 1) gives
        (n_out, 1); a batch (m, n_in) gives (m, n_out), one sample a row.
        """
        a = np.asarray(a, dtype=self.dtype)
        column = a.ndim == 2 and a.shape[1] == 1 and a.shape[0] == self.sizes[0] != 1
        A = a.reshape(1, -1) if a.ndim == 1 or column else a
        if A.ndim != 2 or A.shape[1] != self.sizes[0]:
            raise ValueError(f"input must have {self.sizes[0]} features, got shape {a.shape}")
        if self.engine != "numpy" and kernels.supports_forward(self, A):
            A = kernels.forward(self, A)            # the same layers, compiled and threaded
        else:
            for w, b, act in zip(self.weights, self.biases, self._activations()):
                Z = A @ w.T
                Z += b
                A = act(Z, out=Z)
        if a.ndim == 1:
            return A[0]
        return A.T if column else A

    def predict(self, X):
        """Predicted digit per row of X (m, n_in): the index of the most active output neuron."""
        return np.argmax(self.feedforward(np.atleast_2d(X)), axis=1)

    def evaluate(self, test_data):
        """Number of test inputs for which the network's output is correct (the book's count).

        ``test_data`` is the book's list of ``(x, label)`` pairs or a pair ``(X, labels)``.
        """
        X, labels = as_arrays(test_data, self.sizes[0], self.sizes[-1], self.dtype, targets="labels")
        return int(np.sum(self._predict_in_chunks(X) == labels))

    def _predict_in_chunks(self, X, chunk=10000):
        return np.concatenate([np.argmax(self.feedforward(X[i:i + chunk]), axis=1)
                               for i in range(0, len(X), chunk)]) if len(X) else np.zeros(0, int)

    def total_cost(self, X, Y, chunk=10000):
        """Mean cost over the rows of X (m, n_in) and targets Y (m, n_out)."""
        return self.measure(X, np.argmax(Y, axis=1), Y, chunk)[0]

    def measure(self, X, labels, Y=None, chunk=10000):
        """``(mean cost, number correct)`` over X (m, n_in), in one pass.

        labels : (m,) integer labels; Y : (m, n_out) one-hot targets (made from labels if None).
        """
        total, correct = 0.0, 0
        for i in range(0, len(X), chunk):
            A = self.feedforward(X[i:i + chunk])
            T = one_hot(labels[i:i + chunk], self.sizes[-1], self.dtype) if Y is None else Y[i:i + chunk]
            total += self.cost(A, T)
            correct += int(np.sum(np.argmax(A, axis=1) == labels[i:i + chunk]))
        return total / max(len(X), 1), correct

    def cost_derivative(self, output_activations, y):
        """dC_x/da for the output activations: (a - y) for the book's quadratic cost."""
        return self.cost.derivative(output_activations, y)

    # -- learning --------------------------------------------------------------
    def backprop(self, x, y, scale=1.0):
        """Gradient of the cost, summed over a mini-batch, by backpropagation.

        ``x`` is one input (n_in,) / (n_in, 1) with its target ``y`` (n_out,) / (n_out, 1),
        or a batch X (m, n_in) with Y (m, n_out).  Returns ``(nabla_b, nabla_w)``, lists
        shaped like ``biases`` and ``weights``: sum over the batch of dC_x/db and dC_x/dw,
        times ``scale`` (SGD passes eta/m, which saves scaling every array afterwards).
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
            delta *= self.dtype.type(scale)   # BP2-BP4 are linear in delta^L: this scales them all
        for l in range(L - 1, -1, -1):
            if l < L - 1:
                # BP2: delta^l = (delta^{l+1} W^{l+1}) (.) sigma'(z^l)
                delta = delta @ self.weights[l + 1]
                delta *= self.activation.prime_from_output(activations[l + 1])
            nabla_b[l] = delta.sum(axis=0)          # BP3: dC/db^l = delta^l, summed over the batch
            nabla_w[l] = delta.T @ activations[l]   # BP4: dC/dw^l = delta^l (a^{l-1})^T, summed
        return nabla_b, nabla_w

    def activations(self, X):
        """Every layer's activations for a batch X (m, n_in): ``[X, A^2, ..., A^L]``.

        The feedforward pass of backprop: Z = A W^T + b, A = sigma(Z), layer by layer;
        A^l has shape (m, sizes[l]).  Also what you look at to see inside the network.
        """
        activations = [X]
        for w, b, act in zip(self.weights, self.biases, self._activations()):
            Z = activations[-1] @ w.T
            Z += b
            activations.append(act(Z, out=Z))
        return activations

    def _activations(self):
        """The activation of each weight layer: hidden ones, then the output layer's."""
        return [self.activation] * (self.num_layers - 2) + [self.output_activation]

    def update_mini_batch(self, mini_batch, eta, lmbda=0.0, n=None, momentum=0.0):
        """One step of gradient descent on a mini-batch (book eq. 20-21).

        ``mini_batch`` is a list of ``(x, y)`` pairs or a pair ``(X, Y)``:
        w -> w - eta/m sum_x dC_x/dw, b -> b - eta/m sum_x dC_x/db.
        With ``lmbda`` > 0 the weights first decay by (1 - eta lmbda / n) (L2
        regularisation, book eq. 93; ``n`` is the training-set size); with ``momentum``
        mu > 0 each parameter moves by a velocity v -> mu v - eta/m nabla (chapter 3).
        """
        X, Y = as_arrays(mini_batch, self.sizes[0], self.sizes[-1], self.dtype)
        self._step(X, Y, eta, lmbda, n or len(X), momentum)

    def _step(self, X, Y, eta, lmbda=0.0, n=1, momentum=0.0):
        # the gradients come back already multiplied by eta/m
        nabla_b, nabla_w = self.backprop(X, Y, scale=eta / len(X))
        if lmbda:
            decay = self.dtype.type(1 - eta * lmbda / n)    # L2: w -> (1 - eta lmbda / n) w - ...
            for w in self.weights:
                w *= decay
        if momentum:                                         # v -> mu v - eta/m nabla;  p -> p + v
            if getattr(self, "velocities", None) is None:
                self.velocities = [np.zeros_like(p) for p in self.weights + self.biases]
            mu = self.dtype.type(momentum)
            for p, v, g in zip(self.weights + self.biases, self.velocities, nabla_w + nabla_b):
                v *= mu
                v -= g
                p += v
            return
        for w, b, nw, nb in zip(self.weights, self.biases, nabla_w, nabla_b):
            w -= nw
            b -= nb

    def train_epoch(self, X, Y, mini_batch_size, eta, *, lmbda=0.0, momentum=0.0, on_batch=None, rows=None):
        """One epoch of mini-batch SGD over X (n, n_in), Y (n, n_out): shuffle, split, step.

        The order comes from the network's Generator; the last mini-batch may be smaller.
        ``rows``: X's nonzeros for the compiled kernel (``compiled_rows(X)``), if made.
        Returns the seconds it took.
        """
        start = time.perf_counter()
        n = len(X)
        n_batches = -(-n // mini_batch_size)
        order = self.rng.permutation(n)
        if self.uses_kernel(momentum, mini_batch_size):
            # the same steps in compiled code, a run of mini-batches per call
            per_call = max(1, 20000 // mini_batch_size)
            for k in range(0, n_batches, per_call):
                kernels.sgd_batches(self, X, Y, order[k * mini_batch_size:(k + per_call) * mini_batch_size],
                                    mini_batch_size, eta, lmbda, n, rows=rows)
                if on_batch is not None:
                    on_batch(min(k + per_call, n_batches), n_batches)
            return time.perf_counter() - start
        for k in range(n_batches):
            batch = order[k * mini_batch_size:(k + 1) * mini_batch_size]
            self._step(X[batch], Y[batch], eta, lmbda, n, momentum)
            if on_batch is not None:
                on_batch(k + 1, n_batches)
        return time.perf_counter() - start

    def uses_kernel(self, momentum=0.0, mini_batch_size=10):
        """Whether ``train_epoch`` runs through the compiled kernel for these settings."""
        return self.engine != "numpy" and kernels.supports(self, momentum, mini_batch_size)

    def compiled_rows(self, X, momentum=0.0, mini_batch_size=10):
        """X's nonzero entries for the compiled kernel, made once for many epochs over the
        same X (None when the kernel is not used or X is mostly nonzero)."""
        return kernels.SparseRows.of(X) if self.uses_kernel(momentum, mini_batch_size) else None

    def epoch_record(self, epoch, seconds, training, validation=None, test=None):
        """The history entry of one epoch: cost and accuracy on each given data set.

        Each data set is ``(X, labels, Y)``. Keys: epoch, seconds, training_cost,
        training_accuracy, validation_cost/validation_accuracy (with validation data),
        test_cost, correct, total, accuracy (with test data: the book's reported figure).
        """
        record = {"epoch": epoch, "seconds": seconds}
        for name, data in (("training", training), ("validation", validation), ("test", test)):
            if data is None:
                continue
            cost, correct = self.measure(*data)
            if name == "test":
                record.update(test_cost=cost, correct=correct, total=len(data[1]),
                              accuracy=correct / len(data[1]))
            else:
                record[f"{name}_cost"], record[f"{name}_accuracy"] = cost, correct / len(data[1])
        return record

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None, *,
            log=print, callbacks=(), on_batch=None):
        """Train by mini-batch stochastic gradient descent (the book's ``SGD``).

        Each epoch shuffles the training data with the network's Generator, splits it
        into mini-batches of ``mini_batch_size`` (the last may be smaller) and takes a
        gradient step on each (``update_mini_batch``).  With ``test_data`` it reports
        ``Epoch {j}: {correct} / {n}`` after each epoch, else ``Epoch {j} complete``,
        through ``log`` (``print`` by default, like the book; ``None`` for silence).

        ``callbacks`` are called as ``cb(network, record)`` after every epoch; one that
        returns True stops training.  ``on_batch(done, total)`` is called after every
        mini-batch (for progress bars).  Returns the history: a list of
        ``epoch_record`` dicts, one per epoch.
        """
        epochs, mini_batch_size = int(epochs), int(mini_batch_size)
        if epochs < 0 or mini_batch_size < 1 or not eta > 0:
            raise ValueError(f"need epochs >= 0, mini_batch_size >= 1 and eta > 0, "
                             f"got {epochs}, {mini_batch_size}, {eta}")
        X, Y = as_arrays(training_data, self.sizes[0], self.sizes[-1], self.dtype)
        training = (X, np.argmax(Y, axis=1), Y)
        test = None
        if test_data is not None:
            Xt, yt = as_arrays(test_data, self.sizes[0], self.sizes[-1], self.dtype, targets="labels")
            test = (Xt, yt, None)
        history = []
        start = time.perf_counter()
        rows = self.compiled_rows(X, 0.0, mini_batch_size) if epochs else None
        prepare = time.perf_counter() - start      # counted in the first epoch's seconds
        for j in range(epochs):
            seconds = self.train_epoch(X, Y, mini_batch_size, eta, on_batch=on_batch, rows=rows)
            seconds, prepare = seconds + prepare, 0.0
            record = self.epoch_record(j, seconds, training, test=test)
            history.append(record)
            if log is not None:
                log(f"Epoch {j}: {record['correct']} / {record['total']}" if test else f"Epoch {j} complete")
            if any([cb(self, record) for cb in callbacks]):
                break
        return history
