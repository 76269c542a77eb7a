"""The model protocol: what every kind of model answers, so that nothing outside the core
has to ask which kind it holds.

Three kinds meet it today -- the book's ``Network`` (chapters 1-3), chapter 6's
``LayerNetwork`` and the ``Ensemble`` of trained networks -- and a new kind (a new layer
network, batch normalisation, ...) meets it by writing these methods in the core and
registering itself with ``register_kind``; the pages, plots, exporters, files and commands
then take it without change.  Shapes: X is (m, n_in), or (m, *input_shape) for images;
labels are integers (m,).

A ``Model`` (anything that answers):

    kind                 a name for people ("network", "layer network", "ensemble"):
                         for messages, never for deciding what to do
    n_in, n_out          values per input sample (c*h*w for images) and outputs
    input_shape          one sample's shape: (784,) or (1, 28, 28)
    dtype, seed          of its parameters; the seed it was made from (None if unknown)
    members              the trained networks it consists of: ``[self]`` for one network
    probabilities(X)     (m, n_out) rows that sum to 1
    predict(X)           (m,) the class of each row
    measure(X, labels, forward=None)   (mean cost, number correct)
    evaluate(test_data)  the book's count of correct answers
    score(X, labels)     the accuracy, a fraction (scikit-learn's name)
    describe(compact=False)  the architecture in one line, e.g. "784-30-10"; compact as
                         ``--layers`` writes layers ("1x28x28-conv20x5/pool2-softmax10")
    details()            lines for people beyond ``describe()`` (cost, activations, layers)
    layer_names()        a name per layer with parameters, first hidden to output
    summary()            JSON-able facts for pages: sizes, activations, cost, and "layers",
                         each layer's name, output shape and activation (output last)
    layer_specs()        each layer as data for exporters: {"kind", "w", "b", ...} (arrays themselves)
    first_layer_weights()  the first layer's weights: (k, n_in) rows, or (f, c, kh, kw) filters
    layer_outputs(X)     every layer's output for X, inference mode; the last is a^L
    input_gradient(x, k) ``(d a^L_k / dx (n_in,), k)``; k None: the winning output
    probability_gradient(x, k)   d p_k / dx (n_in,): the gradient of its probability of k
    astype(dtype)        a copy in another float dtype
    header()             the model as JSON-able data (kind, shapes, activations, dtype,
                         seed, "format_version"): with ``named_parameters()`` all a file holds
    named_parameters()   ``{name: array}`` in the one fixed order of ``parameters()``
    named_buffers()      (optional) ``{name: array}`` of state saved with the model that gradient
                         descent does not train: batch normalisation's running statistics
                         ("running_mean{l}", "running_var{l}"); a file holds these too

A ``Trainable`` model (a network; not an ensemble) also answers:

    rng                  its one ``numpy.random.Generator`` (initial weights, shuffles, masks)
    targets              "onehot" (it trains on one-hot rows) or "labels" (on integers)
    l2_rule              "decay" (L2 as the book's weight decay in ``decay``, outside the
                         gradient and so outside momentum) or "gradient" (a term of the cost,
                         inside ``gradients``)
    parameters()         every parameter array, the arrays themselves, in one fixed order
                         w0, b0, w1, b1, ... (what optimizers and checkpoints rely on)
    gradients(X, T, scale=1.0, lmbda=0.0, n=1, masks=None)  ``scale`` times the mini-batch's
                         mean gradient of the cost, a list in ``parameters()`` order
    draw_masks(m, rng=None)  dropout masks for m rows (None without dropout), to fix them
    decay(eta, lmbda, n) the part of its L2 rule that is not in ``gradients`` (the book's
                         network shrinks its weights by 1 - eta lmbda / n, eq. 93)
    l2_count(n_examples, mini_batch_size)   the n that divides lambda in its L2 rule
    step(X, T, eta, lmbda=0.0, n=1)    one step of plain SGD on a mini-batch

The registry of kinds (``register_kind``, ``model_from_header``, ``parameter_shapes``)
rebuilds any model from its header and arrays; the registry of engines (``register_engine``,
``resolve_engine``) lets a faster engine offer itself for the networks it runs, while
``"numpy"`` (the core's own steps, ``NumpyEngine``) is always one argument away.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Model",
    "Trainable",
    "register_kind",
    "model_from_header",
    "parameter_shapes",
    "buffer_shapes",
    "array_shapes",
    "buffers_of",
    "state_arrays",
    "KINDS",
    "NumpyEngine",
    "register_engine",
    "resolve_engine",
    "ENGINE_CHOOSERS",
]


@runtime_checkable
class Model(Protocol):
    """Anything that classifies: see the module's docstring for what each member means."""

    kind: str
    n_in: int
    n_out: int
    input_shape: tuple
    dtype: np.dtype
    seed: Any

    @property
    def members(self) -> list: ...
    def probabilities(self, X) -> np.ndarray: ...
    def predict(self, X) -> np.ndarray: ...
    def measure(self, X, labels, forward=None) -> tuple: ...
    def evaluate(self, test_data) -> int: ...
    def score(self, X, labels) -> float: ...
    def describe(self, compact=False) -> str: ...
    def details(self) -> list: ...
    def layer_names(self) -> list: ...
    def summary(self) -> dict: ...
    def layer_specs(self) -> list: ...
    def first_layer_weights(self) -> np.ndarray: ...
    def layer_outputs(self, X) -> list: ...
    def input_gradient(self, x, k=None) -> tuple: ...
    def probability_gradient(self, x, k) -> np.ndarray: ...
    def astype(self, dtype) -> Model: ...
    def header(self) -> dict: ...
    def named_parameters(self) -> dict: ...


@runtime_checkable
class Trainable(Model, Protocol):
    """A model that gradient descent trains: see the module's docstring."""

    rng: np.random.Generator
    targets: str
    l2_rule: str

    def parameters(self) -> list: ...
    def gradients(self, X, T, *, scale=1.0, lmbda=0.0, n=1, masks=None) -> list: ...
    def draw_masks(self, m, rng=None): ...
    def decay(self, eta, lmbda, n) -> None: ...
    def l2_count(self, n_examples, mini_batch_size) -> int: ...
    def step(self, X, T, eta, lmbda=0.0, n=1): ...


# -- the kinds, by the format version of their header ------------------------------------------
#: format_version -> the class that reads such a header (``from_header``, ``parameter_shapes``)
KINDS: dict = {}


def register_kind(cls):
    """Make ``cls`` (with ``format_version``, ``from_header`` and ``parameter_shapes``) the
    reader of headers of its format version; returns cls (a class decorator)."""
    KINDS[cls.format_version] = cls
    return cls


def _kind_of(header):
    if not isinstance(header, dict):
        raise ValueError(f"a model header is a JSON object, got {type(header).__name__}")
    version = header.get("format_version")
    if isinstance(version, bool) or version not in KINDS:
        raise ValueError(
            f"unknown format version {version!r} (this glassnet reads versions {', '.join(map(str, sorted(KINDS)))})"
        )
    return KINDS[version]


def parameter_shapes(header):
    """``{name: shape}`` of every parameter array the model ``header`` describes, in
    ``parameters()`` order, computed from the header alone (nothing allocated);
    ValueError for a header that describes no sound model."""
    return _kind_of(header).parameter_shapes(header)


def buffer_shapes(header):
    """``{name: shape}`` of the buffers (``named_buffers()``) the model ``header`` describes,
    {} for kinds without any; call after ``parameter_shapes`` has accepted the header."""
    reader = getattr(_kind_of(header), "buffer_shapes", None)
    return reader(header) if reader is not None else {}


def buffers_of(model):
    """``model.named_buffers()`` (the protocol's optional part: batch normalisation's running
    statistics), or {} for a model that keeps none."""
    method = getattr(model, "named_buffers", None)
    return dict(method()) if method is not None else {}


def state_arrays(model):
    """Every array that makes ``model`` what it is, in one order: ``parameters()``, then its
    buffers (``buffers_of``) -- what a copy of the model's state (the best epoch's) holds."""
    return [*model.parameters(), *buffers_of(model).values()]


def array_shapes(header):
    """Every array a model file with this header holds: ``parameter_shapes`` then ``buffer_shapes``."""
    return {**parameter_shapes(header), **buffer_shapes(header)}


def model_from_header(header, arrays):
    """The model ``header`` describes, holding ``arrays`` ({name: array}); ValueError (one
    line) when the header or the arrays do not make a sound model.  Checks the arrays'
    names and shapes against the header before building anything."""
    cls = _kind_of(header)
    shapes = array_shapes(header)
    if set(arrays) != set(shapes):
        missing, extra = sorted(set(shapes) - set(arrays)), sorted(set(arrays) - set(shapes))
        raise ValueError(
            "arrays do not match the header"
            + (f"; missing {missing[:8]}" if missing else "")
            + (f"; unexpected {extra[:8]}" if extra else "")
        )
    for name, shape in shapes.items():
        a = arrays[name]
        if a.shape != tuple(shape) or a.dtype.kind != "f":
            raise ValueError(f"{name} is {a.dtype} {a.shape}, the header needs floating point {tuple(shape)}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} holds NaN or infinite values")
    return cls.from_header(header, arrays)


def check_name(header, key, default):
    """``header[key]`` (or ``default``) when it is a string; ValueError otherwise."""
    value = header.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"header field {key!r} must be a name, got {type(value).__name__}")
    return value


def check_seed(header):
    seed = header.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"header field 'seed' must be a whole number >= 0 or null, got {seed!r}")
    return seed


# -- engines -------------------------------------------------------------------------------------
class NumpyEngine:
    """The core's own steps, one mini-batch at a time: the readable reference engine.

    Engine protocol (X (n, n_in), T (n, n_out) or labels (n,), order row numbers of X):
    ``name``; ``prepare(X) -> engine`` (an engine that may keep facts about X); ``order``
    holds row numbers of X (a permutation, or any rows, repeats allowed: a weighted draw);
    ``epoch(network, X, T, order, mini_batch_size, eta, optimizer=None, on_batch=None)``
    steps the mini-batches order[0:m], order[m:2m], ... by ``optimizer.step`` (``network.step``
    when None) and calls ``on_batch(done, total)`` after each mini-batch or run of them.
    ``eta`` is one rate for the epoch or an array (n_batches,) of one per mini-batch (a
    schedule such as one-cycle); every engine takes both.
    """

    name = "numpy"

    def prepare(self, X):
        return self

    def epoch(self, network, X, T, order, mini_batch_size, eta, optimizer=None, on_batch=None):
        n_batches = -(-len(order) // mini_batch_size)
        per_batch = np.ndim(eta) > 0
        if per_batch and len(eta) != n_batches:
            raise ValueError(f"eta holds {len(eta)} rates for {n_batches} mini-batches")
        for k in range(n_batches):
            batch = order[k * mini_batch_size : (k + 1) * mini_batch_size]
            rate = float(eta[k]) if per_batch else eta
            if optimizer is None:
                network.step(X[batch], T[batch], rate)
            else:
                optimizer.step(network, X[batch], T[batch], rate)
            if on_batch is not None:
                on_batch(k + 1, n_batches)

    def __repr__(self):
        return "NumpyEngine()"


#: ``chooser(network, mini_batch_size, optimizer) -> engine or None``, asked in order by "auto"
ENGINE_CHOOSERS: list = []


def register_engine(chooser: Callable) -> Callable:
    """Offer a faster engine to ``resolve_engine("auto", ...)``: ``chooser`` returns an engine
    that computes exactly the core's steps for this network and these settings, or None.
    ``glassnet.engines`` registers its compiled kernels this way when it is imported."""
    if chooser not in ENGINE_CHOOSERS:
        ENGINE_CHOOSERS.append(chooser)
    return chooser


def resolve_engine(engine, network, mini_batch_size, optimizer=None):
    """The engine object ``engine`` names: "numpy" the core's ``NumpyEngine``; "auto" (or
    None) the first registered engine that runs this network with these settings, else
    NumPy; an engine object as it is."""
    if engine is None or engine == "auto":
        for chooser in ENGINE_CHOOSERS:
            chosen = chooser(network, int(mini_batch_size), optimizer)
            if chosen is not None:
                return chosen
        return NumpyEngine()
    if engine == "numpy":
        return NumpyEngine()
    if isinstance(engine, str):
        raise ValueError(f"engine must be 'auto', 'numpy' or an engine object, got {engine!r}")
    return engine
