"""The book's chapter-3 program ``network2.py``, built on glassnet's core and training loop.

Chapter 3 improves the chapter-1 network with the cross-entropy cost, L2 regularisation,
N(0, 1/n_in) initial weights, per-epoch monitoring and early stopping. This module keeps
the book's names and meanings, so its listings run with only the import changed::

    import glassnet.network2 as network2
    training_data, validation_data, test_data = network2.load_data_wrapper()
    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    net.SGD(training_data, 30, 10, 0.5, lmbda=5.0, evaluation_data=validation_data,
            monitor_evaluation_accuracy=True)

Nothing is computed twice. A ``network2.Network`` holds a ``glassnet.Network`` (``core``),
which does the feedforward pass and backpropagation. ``SGD`` trains through
``glassnet.training.fit``, which uses the compiled kernel wherever glassnet's Network
does. This module adds only what the book adds around them: the two cost classes, the
per-epoch measures (``total_cost``, ``accuracy``) and their transcript, early stopping
and the JSON file format.

Glossary (book -> glassnet):

    Network(sizes, cost)          core = glassnet.Network(sizes, cost="cross-entropy" |
                                  "quadratic", init="scaled")
    weights[l]  (n_out, n_in)     core.weights[l] itself (the same arrays)
    biases[l]   (n_out, 1)        column views of core.biases[l] (n_out,): writing into
                                  one changes the network
    backprop(x, y)                core.backprop(x.T, y.T) for one column example
    update_mini_batch             core.backprop(X, Y, eta/m) on the rows, then eq. 93:
                                  w -> (1 - eta lmbda/n) w - eta/m nabla_w
    SGD                           fit(core, (X, y), TrainingConfig(...), callbacks=[book's
                                  monitor])

The data forms that ``SGD``, ``accuracy``, ``total_cost`` and ``update_mini_batch`` accept:

* the book's lists of ``(x, y)`` pairs, where x is a column (784, 1) and y is either a
  one-hot column (10, 1) (the training data) or an int label (validation and test data).
  Python 3 zip objects and generators of such pairs are accepted too; the book's Python 3
  ports fail on these with "zip object is not subscriptable";
* glassnet's arrays ``(X, y)``: X of shape (m, 784) and y of shape (m,) int, or (m, 10) one-hot.
  A ``Dataset`` with ``.X`` and ``.y`` also works.

The ``convert`` flags of ``accuracy`` and ``total_cost`` mean what they mean in the book.
``accuracy(data, convert=True)`` says the labels are one-hot columns.
``total_cost(data, lmbda, convert=True)`` says the labels are ints. On the book's lists a
flag that contradicts the labels raises ValueError (the book would compute nonsense). On
glassnet's arrays the labels' shape already says which form they take, so the flag is not
needed.

Differences from the book: float32 by default (``dtype=np.float64`` gives the book's
arithmetic); one Generator, seeded by ``seed=``, draws the initial weights and
shuffles each epoch (the book uses NumPy's and Python's global random state); the
transcript goes through ``log`` (``print`` by default, as in the book; ``None`` for silence);
the costs of a float32 network are those of the book's float64 arithmetic: for the few
outputs that float32 cannot resolve, the output layer is recomputed in float64 (in float32,
sigmoid rounds to exactly 1 from z = 17 onwards, where ln(1 - a) would be -inf).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .core.dataforms import from_pairs
from .core.functions import sigmoid, sigmoid_prime
from .core.network import Network as CoreNetwork
from .engines import forward_for
from .errors import InputError, LabelError, ModelFormatError
from .io import read_book_json, write_book_json
from .labels import one_hot
from .mnist_loader import load_data_wrapper, vectorized_result  # the book's helpers, one copy of each
from .training import TrainingConfig, fit

__all__ = [
    "QuadraticCost",
    "CrossEntropyCost",
    "Network",
    "load",
    "vectorized_result",
    "sigmoid",
    "sigmoid_prime",
    "load_data_wrapper",
]

#: rows per forward pass when measuring a data set (bounds the memory of one pass)
CHUNK = 10000


def _forward_for(core, X):
    """The forward pass for ``core`` on rows like X (m, n_in): the engines' choice (the
    compiled kernel for mostly-zero inputs of small sigmoid networks), else the core's."""
    return forward_for(core, X)[1]


# -- the two costs -----------------------------------------------------------------------------
class QuadraticCost:
    """C = 1/2 ||a - y||^2 (book eq. 6). On arrays of any shape fn sums over every element,
    so a batch A, Y (m, n_out) gives the sum of the per-example costs."""

    name = "quadratic"  # glassnet's name for the same cost

    @staticmethod
    def fn(a, y):
        """The cost of output ``a`` for desired output ``y``: a float."""
        d = np.asarray(a, dtype=float) - y
        return 0.5 * float(np.vdot(d, d))

    @staticmethod
    def delta(z, a, y):
        """The output error delta^L = (a - y) sigma'(z) (BP1 for this cost)."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    """C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] (book eq. 63), summed over every element.

    As in the book, ``fn`` follows np.nan_to_num: a term 0 ln 0 counts as 0 (a = y = 0 or 1),
    and a certain wrong answer (a = 0 where y = 1) counts as the largest float. Unlike the
    book, it raises no RuntimeWarning when it does so.
    """

    name = "cross-entropy"

    @staticmethod
    def fn(a, y):
        """The cost of output ``a`` for desired output ``y``: a float (possibly 1.8e308, see above)."""
        a = np.asarray(a, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return float(np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a))))

    @staticmethod
    def delta(z, a, y):
        """The output error delta^L = a - y: the sigma'(z) of BP1 cancels (book eq. 66)."""
        return a - y


COSTS = {"QuadraticCost": QuadraticCost, "CrossEntropyCost": CrossEntropyCost}


def _cost_class(cost):
    """The cost class for ``cost``: one of the two classes, an instance of one, or glassnet's name."""
    for cls in COSTS.values():
        if cost is cls or isinstance(cost, cls) or (isinstance(cost, str) and cost == cls.name):
            return cls
    raise InputError(
        f"cost must be network2.CrossEntropyCost or network2.QuadraticCost (the costs "
        f"glassnet's backpropagation computes), got {cost!r}"
    )


def _check_sgd(epochs, mini_batch_size, eta, lmbda, early_stopping_n, evaluation_data, monitors):
    """SGD's numbers as ints, checked; InputError naming them otherwise."""
    epochs, mini_batch_size, early_stopping_n = int(epochs), int(mini_batch_size), int(early_stopping_n)
    if epochs < 0 or mini_batch_size < 1 or not 0 < eta < float("inf") or not lmbda >= 0 or early_stopping_n < 0:
        raise InputError(
            f"need epochs >= 0, mini_batch_size >= 1, eta > 0, lmbda >= 0 and early_stopping_n >= 0, "
            f"got {epochs}, {mini_batch_size}, {eta}, {lmbda} and {early_stopping_n}"
        )
    needs = monitors["evaluation_cost"] or monitors["evaluation_accuracy"] or early_stopping_n
    if evaluation_data is None and needs:
        raise InputError("monitoring the evaluation cost or accuracy, or early stopping, needs evaluation_data")
    return epochs, mini_batch_size, early_stopping_n


# -- data forms --------------------------------------------------------------------------------
class _Data(NamedTuple):
    """A data set in rows: X (m, n_in), labels (m,) int, Y (m, n_out) targets.
    ``vectorized``: whether the labels came as vectors (the book's training-data form);
    ``pairs``: whether the data came as the book's (x, y) pairs."""

    X: np.ndarray
    labels: np.ndarray
    Y: np.ndarray
    vectorized: bool
    pairs: bool


def _as_data(data, sizes, dtype, what="data"):
    """Any accepted data form (see the module docstring) as a _Data."""
    n_in, n_out = sizes[0], sizes[-1]
    if hasattr(data, "X") and hasattr(data, "y"):
        data = (data.X, data.y)
    if (
        isinstance(data, tuple)
        and len(data) == 2
        and isinstance(data[0], np.ndarray)
        and data[0].ndim == 2
        and data[0].shape[1] == n_in
        and (n_in != 1 or data[0].shape[0] != 1)
    ):
        X, y = np.ascontiguousarray(data[0], dtype=dtype), np.asarray(data[1])
        pairs = False
    else:
        X, y = from_pairs(data, n_in, dtype, what)
        pairs = True
    if len(X) == 0:
        raise InputError(f"{what} is empty")
    if y.shape[:1] != X.shape[:1]:
        raise InputError(f"{what}: {len(X)} inputs but {y.shape[0] if y.ndim else 0} labels")
    if y.ndim == 1:
        labels = np.asarray(y)
        if labels.dtype.kind not in "iu":
            raise LabelError(f"{what}: 1-D labels must be integers, got {labels.dtype}")
        return _Data(X, labels, one_hot(labels, n_out, dtype), False, pairs)
    Y = y.reshape(len(y), -1)
    if Y.shape[1] != n_out:
        raise InputError(f"{what}: label vectors must have {n_out} entries, got shape {y.shape[1:]}")
    return _Data(X, np.argmax(Y, axis=1), np.ascontiguousarray(Y, dtype=dtype), True, pairs)


def _check_convert(d, vectorized, flag, call):
    """Refuse a convert flag that contradicts the labels of the book's lists of pairs."""
    if d.pairs and d.vectorized != vectorized:
        form = "one-hot columns" if d.vectorized else "int labels"
        raise InputError(
            f"{call}: the data's labels are {form}, but {flag} says otherwise "
            f"(the book's training data has one-hot labels, validation and test data "
            f"int labels)"
        )


# -- the network -------------------------------------------------------------------------------
class Network:
    """The book's chapter-3 network: sigmoid layers, a cost class, L2-regularised SGD.

    Parameters
    ----------
    sizes : list of int
        Neurons per layer, input first, e.g. ``[784, 30, 10]``.
    cost : CrossEntropyCost (default) or QuadraticCost
        The class, as in the book (an instance works too).
    seed : int or None
        Seeds the one ``numpy.random.Generator`` (``core.rng``) that draws the initial
        parameters (``default_weight_initializer``, ``large_weight_initializer``) and
        shuffles the training data every epoch.
    dtype : float32 (default) or float64 (the book's arithmetic)

    Attributes: ``sizes``, ``num_layers``, ``cost`` (the class), ``core`` (the
    ``glassnet.Network`` that computes), ``weights`` and ``biases`` (see the properties).
    """

    def __init__(self, sizes, cost=CrossEntropyCost, *, seed=None, dtype=None):
        self.cost = _cost_class(cost)
        # the core draws default_weight_initializer's N(0, 1/n_in) weights and N(0, 1) biases
        self.core = CoreNetwork(sizes, seed=seed, dtype=dtype, cost=self.cost.name, init="scaled")
        self.sizes, self.num_layers = self.core.sizes, self.core.num_layers

    def __repr__(self):
        return f"network2.Network({self.sizes}, cost=network2.{self.cost.__name__})"

    # -- parameters in the book's shapes -----------------------------------------
    @property
    def weights(self):
        """The core's weight matrices themselves: a list of (n_out, n_in) arrays, the book's
        shapes. Writing into them changes the network; assigning a list copies its values in."""
        return self.core.weights

    @weights.setter
    def weights(self, weights):
        self._assign(self.core.weights, list(weights), "weights", lambda n_out, n_in: (n_out, n_in))

    @property
    def biases(self):
        """The book's bias columns: a list of (n_out, 1) views of the core's (n_out,) vectors,
        made afresh on each access. Writing into them changes the network; assigning a list of
        columns (or of 1-D vectors) copies its values in."""
        return [b.reshape(-1, 1) for b in self.core.biases]

    @biases.setter
    def biases(self, biases):
        self._assign(self.core.biases, [np.reshape(b, -1) for b in biases], "biases", lambda n_out, n_in: (n_out,))

    def _assign(self, targets, values, name, shape):
        if len(values) != len(targets):
            raise InputError(f"sizes {self.sizes} need {len(targets)} {name} arrays, got {len(values)}")
        for l, (target, value) in enumerate(zip(targets, values)):
            value = np.asarray(value)
            if value.shape != shape(self.sizes[l + 1], self.sizes[l]):
                raise InputError(
                    f"{name}[{l}] must have shape {target.shape} (or the book's column), got {value.shape}"
                )
        for target, value in zip(targets, values):
            target[...] = value

    def default_weight_initializer(self):
        """Redraw the parameters: weights N(0, 1/n_in), biases N(0, 1) (the book's default)."""
        self._redraw(lambda n_in: 1.0 / np.sqrt(n_in))

    def large_weight_initializer(self):
        """Redraw the parameters: weights and biases N(0, 1) (chapter 1's initialisation)."""
        self._redraw(lambda n_in: 1.0)

    def _redraw(self, weight_scale):
        rng = self.core.rng  # the one Generator, in the core's order of draws
        for w, b in zip(self.core.weights, self.core.biases):
            b[...] = rng.standard_normal(b.shape)
            w[...] = rng.standard_normal(w.shape) * weight_scale(w.shape[1])

    # -- the network's function and its gradient ---------------------------------
    def feedforward(self, a):
        """The output for ``a``: the book's column (n_in, 1) gives (n_out, 1); glassnet's row
        batch (m, n_in) gives (m, n_out); a vector (n_in,) gives (n_out,)."""
        return self.core.feedforward(a)

    def backprop(self, x, y):
        """``(nabla_b, nabla_w)`` for one example: the gradient of its cost C_x.

        x : the book's column (n_in, 1) (or a vector (n_in,)); y : a one-hot column (n_out, 1)
        or an int label. Returns nabla_b as (n_out, 1) columns and nabla_w as (n_out, n_in)
        matrices, as in the book. The core computes them (on x as a row batch of one).
        """
        X = np.asarray(x, dtype=self.core.dtype).reshape(1, -1)
        if X.shape[1] != self.sizes[0]:
            raise InputError(f"x must have {self.sizes[0]} values, got shape {np.shape(x)}")
        Y = self._target_row(y)
        nabla_b, nabla_w = self.core.backprop(X, Y)
        return [nb.reshape(-1, 1) for nb in nabla_b], nabla_w

    def _target_row(self, y):
        if isinstance(y, (int, np.integer)) and not isinstance(y, (bool, np.bool_)):
            return one_hot([y], self.sizes[-1], self.core.dtype)
        Y = np.asarray(y, dtype=self.core.dtype).reshape(1, -1)
        if Y.shape[1] != self.sizes[-1]:
            raise InputError(f"y must be an int label or have {self.sizes[-1]} values, got shape {np.shape(y)}")
        return Y

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One gradient step on ``mini_batch`` (any data form) with L2 regularisation (eq. 93):
        w -> (1 - eta lmbda / n) w - (eta / m) sum_x dC_x/dw,  b -> b - (eta / m) sum_x dC_x/db,
        where m = len(mini_batch) and n is the size of the whole training set."""
        d = _as_data(mini_batch, self.sizes, self.core.dtype, "mini_batch")
        nabla_b, nabla_w = self.core.backprop(d.X, d.Y, scale=eta / len(d.X))  # already times eta/m
        decay = self.core.dtype.type(1 - eta * lmbda / n)
        for w, b, nw, nb in zip(self.core.weights, self.core.biases, nabla_w, nabla_b):
            w *= decay
            w -= nw
            b -= nb

    # -- the book's measures ---------------------------------------------------------
    def accuracy(self, data, convert=False):
        """How many inputs of ``data`` the network classifies correctly (an int).

        convert : False for int labels (the book's validation and test data), True for
        one-hot labels (its training data). See the module docstring.
        """
        d = _as_data(data, self.sizes, self.core.dtype)
        _check_convert(d, bool(convert), f"convert={convert}", "accuracy")
        return self._measure(d, 0.0, cost=False)[1]

    def total_cost(self, data, lmbda, convert=False):
        """The mean cost over ``data`` plus the L2 term (book eq. 85):

            1/n sum_x C_x  +  0.5 (lmbda / n) sum_w ||w||^2,   n = len(data).

        convert : False for one-hot labels (the book's training data), True for int labels
        (its validation and test data).
        """
        d = _as_data(data, self.sizes, self.core.dtype)
        _check_convert(d, not convert, f"convert={convert}", "total_cost")
        return self._measure(d, lmbda, cost=True)[0]

    def _measure(self, d, lmbda, cost=True):
        """``(total_cost or None, number correct)`` over a _Data, a chunk of rows at a time."""
        forward = _forward_for(self.core, d.X)
        total, correct = 0.0, 0
        for i in range(0, len(d.X), CHUNK):
            rows = slice(i, i + CHUNK)
            A = forward(d.X[rows])
            correct += int(np.count_nonzero(np.argmax(A, axis=1) == d.labels[rows]))
            if cost:
                total += self.cost.fn(self._float64_outputs(d.X[rows], A, d.Y[rows]), d.Y[rows])
        if not cost:
            return None, correct
        n = len(d.X)
        # the L2 term, once for the whole data set (not once per example)
        l2 = 0.5 * (lmbda / n) * sum(float(np.vdot(w, w)) for w in self.core.weights)
        return total / n + l2, correct

    def _float64_outputs(self, X, A, Y):
        """The outputs A (m, n_out) in float64, with the output layer recomputed in float64 for
        the rows whose cost float32 cannot resolve: a wrong answer with a > 0.999 (where
        1 - a has few significant digits left, and none from z = 17 on) or a right one with
        a < 1e-30 (a reaches 0 from z = -104 on)."""
        A64 = A.astype(np.float64)
        if A.dtype == np.float64:
            return A64
        rows = np.flatnonzero(((Y < 1) & (A > 1 - 1e-3) | (Y > 0) & (A < 1e-30)).any(axis=1))
        if rows.size:
            hidden = self.core.activations(X[rows])[-2].astype(np.float64)
            w, b = self.core.weights[-1].astype(np.float64), self.core.biases[-1].astype(np.float64)
            A64[rows] = sigmoid(hidden @ w.T + b)
        return A64

    # -- training ------------------------------------------------------------------
    def SGD(
        self,
        training_data,
        epochs,
        mini_batch_size,
        eta,
        lmbda=0.0,
        evaluation_data=None,
        monitor_evaluation_cost=False,
        monitor_evaluation_accuracy=False,
        monitor_training_cost=False,
        monitor_training_accuracy=False,
        early_stopping_n=0,
        *,
        log=print,
        callbacks=(),
    ):
        """Train by mini-batch SGD with L2 regularisation and report each epoch, as the book does.

        Returns the book's four lists (one entry per epoch for each monitor that is on):
        ``(evaluation_cost, evaluation_accuracy, training_cost, training_accuracy)``; the
        accuracies are counts, the costs ``total_cost`` values (L2 term included).

        After each epoch it reports "Epoch {j} training complete", then for each monitor
        that is on "Cost on training data: {}", "Accuracy on training data: {} / {}",
        "Cost on evaluation data: {}", "Accuracy on evaluation data: {} / {}", then a blank
        line, through ``log`` (``print``; ``None`` for silence). ``early_stopping_n`` > 0
        stops when the evaluation accuracy has not improved for that many epochs (it
        needs ``evaluation_data``). ``callbacks``: ``cb(network, record)`` after each epoch,
        record holding fit's entries and the measures above; returning True stops.

        The epochs run in ``glassnet.training.fit`` (shuffled with the network's Generator,
        one step per mini-batch, eq. 93 with n the training-set size; the compiled kernel
        where glassnet's Network uses it; the data made arrays once per call). Unlike the
        book, a run whose weights stop being finite raises TrainingDiverged.
        """
        monitors = dict(
            evaluation_cost=monitor_evaluation_cost,
            evaluation_accuracy=monitor_evaluation_accuracy,
            training_cost=monitor_training_cost,
            training_accuracy=monitor_training_accuracy,
        )
        epochs, mini_batch_size, early_stopping_n = _check_sgd(
            epochs, mini_batch_size, eta, lmbda, early_stopping_n, evaluation_data, monitors
        )
        training = _as_data(training_data, self.sizes, self.core.dtype, "training_data")
        evaluation = (
            None
            if evaluation_data is None
            else _as_data(evaluation_data, self.sizes, self.core.dtype, "evaluation_data")
        )
        monitor = _BookMonitor(self, training, evaluation, lmbda, early_stopping_n, log, callbacks, monitors)
        if epochs:
            exact = not training.vectorized or np.array_equal(
                training.Y, one_hot(training.labels, self.sizes[-1], self.core.dtype)
            )
            config = TrainingConfig(epochs=epochs, mini_batch_size=mini_batch_size, eta=eta, l2=lmbda)
            fit(self.core, (training.X, training.labels if exact else training.Y), config, callbacks=[monitor])
        return monitor.lists()

    def save(self, filename):
        """Write the network to ``filename`` in the book's JSON format (atomically):
        {"sizes", "weights" (nested lists (n_out, n_in)), "biases" (nested lists of
        columns (n_out, 1)), "cost": "CrossEntropyCost" | "QuadraticCost"}
        (``glassnet.io.write_book_json``).  ``glassnet.save(net, path)`` writes glassnet's
        model file instead, which keeps the dtype and seed too."""
        write_book_json(filename, self.core)

    # -- glassnet's files (glassnet.save / glassnet.load) ------------------------------
    def _to_file(self):
        """``(model, metadata)`` for ``glassnet.save``: the core network (the same arrays) and
        the face that rebuilds this network from it."""
        return self.core, {"face": {"class": "glassnet.network2.Network"}}

    @classmethod
    def _from_file(cls, model, header):
        """The network2 network a file's core ``model`` stands for (``glassnet.load``)."""
        return cls._from_core(model, seed=model.seed)

    @classmethod
    def _from_core(cls, core, seed=None):
        """A network2 network holding a copy of a core Network's parameters, its Generator
        drawn from ``seed``; ModelFormatError for a core that network2 cannot be."""
        if core.cost.name not in ("cross-entropy", "quadratic") or {
            core.activation.name,
            core.output_activation.name,
        } != {"sigmoid"}:
            raise ModelFormatError(
                f"a network2 network has sigmoid neurons and the cross-entropy or "
                f"quadratic cost, not a {core.describe()} {core.cost.name} network"
            )
        net = cls(core.sizes, cost=core.cost.name, seed=seed, dtype=core.dtype)
        net.weights, net.biases = core.weights, core.biases
        return net


class _BookMonitor:
    """fit's callback: the book's measures and transcript after each epoch, and its early stopping."""

    def __init__(self, net, training, evaluation, lmbda, early_stopping_n, log, callbacks, flags):
        self.net, self.training, self.evaluation, self.lmbda = net, training, evaluation, lmbda
        self.early_stopping_n, self.log, self.callbacks, self.flags = early_stopping_n, log, callbacks, flags
        self.values = {name: [] for name in flags}
        self.best_accuracy, self.no_accuracy_change = -1, 0

    def lists(self):
        v = self.values
        return v["evaluation_cost"], v["evaluation_accuracy"], v["training_cost"], v["training_accuracy"]

    def say(self, line):
        if self.log is not None:
            self.log(line)

    def __call__(self, core, record):
        flags, record = self.flags, dict(record)
        self.say(f"Epoch {record['epoch']} training complete")
        for data, name in ((self.training, "training"), (self.evaluation, "evaluation")):
            want_cost = flags[f"{name}_cost"]
            want_accuracy = flags[f"{name}_accuracy"] or (name == "evaluation" and self.early_stopping_n)
            if not (want_cost or want_accuracy):
                continue
            cost, correct = self.net._measure(data, self.lmbda, cost=want_cost)
            record[f"book_{name}_accuracy"] = correct
            if want_cost:
                record[f"book_{name}_cost"] = cost
                self.values[f"{name}_cost"].append(cost)
                self.say(f"Cost on {name} data: {cost}")
            if flags[f"{name}_accuracy"]:
                self.values[f"{name}_accuracy"].append(correct)
                self.say(f"Accuracy on {name} data: {correct} / {len(data.X)}")
        self.say("")
        stop = any([cb(self.net, record) for cb in self.callbacks])
        if self.early_stopping_n:
            accuracy = record["book_evaluation_accuracy"]
            if accuracy > self.best_accuracy:
                self.best_accuracy, self.no_accuracy_change = accuracy, 0
            else:
                self.no_accuracy_change += 1
            stop = stop or self.no_accuracy_change >= self.early_stopping_n
        return stop


# -- files ---------------------------------------------------------------------------------------
def load(filename, *, seed=None, dtype=None):
    """A Network from a file in the book's JSON format (``Network.save``'s, or the book's own).

    ``seed`` seeds the loaded network's Generator (for further training); ``dtype`` as in
    Network (float32 by default). Raises ModelFormatError for a file that is not such a
    network: bad JSON, missing keys, an unknown cost name (only the two classes are
    accepted; nothing in the file is looked up by name beyond them), wrong shapes or
    values that are not finite numbers (``glassnet.io.read_book_json`` reads it; every
    glassnet command that takes a model reads these files too).
    """
    return Network._from_core(read_book_json(filename, dtype=dtype or np.float32), seed=seed)
