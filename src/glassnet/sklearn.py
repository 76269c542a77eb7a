"""A scikit-learn classifier around glassnet's Network and training loop.

    from glassnet.sklearn import GlassnetClassifier
    clf = make_pipeline(StandardScaler(), GlassnetClassifier(random_state=0))
    clf.fit(X, y).score(X_test, y_test)

It is an ordinary estimator (``BaseEstimator`` + ``ClassifierMixin``): it works in
pipelines, ``GridSearchCV``, ``clone`` and pickle, and passes scikit-learn's
``check_estimator``.  Training is ``glassnet.training.fit`` on a ``glassnet.Network``
with one output neuron per class; ``network_`` is that Network after fitting and
``history_`` the per-epoch records ``fit`` returns.

The defaults are a modern recipe (ReLU, softmax, He init, momentum, L2), chosen so that
on scikit-learn's small data sets it matches or beats ``MLPClassifier()`` with its
defaults (``benchmarks/bench_estimator.py``).  The book's chapter 1 network is
``GlassnetClassifier(**BOOK_CHAPTER_1)``.

Needs scikit-learn >= 1.6 (the extra ``sklearn``: ``pip install "glassnet[sklearn]"``).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError:        # no scikit-learn, or one older than 1.6 (no validate_data)
    raise ImportError("glassnet.sklearn needs scikit-learn >= 1.6: pip install \"glassnet[sklearn]\"") from None

from .core.functions import as_probabilities
from .training import TrainingConfig, fit as _fit, make_optimizer
from .training.runs import network_from_options
from .training.schedules import cosine_eta

__all__ = ["GlassnetClassifier", "BOOK_CHAPTER_1"]

#: the arguments that give the book's chapter 1 network and training: sigmoid neurons,
#: quadratic cost, N(0, 1) weights, 30 hidden neurons, 30 epochs of plain SGD, batches of 10, eta 3
BOOK_CHAPTER_1 = dict(hidden_layer_sizes=(30,), epochs=30, mini_batch_size=10, eta=3.0, cost="quadratic",
                      activation="sigmoid", init="standard", l2=0.0, momentum=0.0)


class GlassnetClassifier(ClassifierMixin, BaseEstimator):
    """A feedforward network trained by mini-batch SGD with momentum, as a scikit-learn classifier.

    The defaults: one hidden layer of 100 ReLU neurons with He-initialised weights, a
    softmax output layer with the log-likelihood cost, mini-batches of 32, eta 0.02,
    momentum 0.9, L2 strength 50 (the book's lambda: weights shrink by 1 - eta lambda / n
    each step, n the number of training samples, so the penalty fades as data grows),
    100 epochs, no held-out part.  Scale the features first (``StandardScaler``).  With
    these, in ``Pipeline([StandardScaler(), clf])`` on stratified 60/40 splits, the median
    test accuracy over 100 splits matches or beats ``MLPClassifier()``'s on the digits,
    iris, wine and breast-cancer data sets (``benchmarks/bench_estimator.py``).

    The book's chapter 1 network (sigmoid, quadratic cost, N(0, 1) weights, plain SGD) is
    ``GlassnetClassifier(hidden_layer_sizes=(30,), epochs=30, mini_batch_size=10, eta=3.0,
    cost="quadratic", activation="sigmoid", init="standard", l2=0.0, momentum=0.0)``,
    also written ``GlassnetClassifier(**BOOK_CHAPTER_1)``; chapter 3's adds
    ``cost="cross-entropy", init="scaled", l2=5.0`` (for MNIST's 50,000 images).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Neurons per hidden layer; ``()`` for none.  The input layer has one neuron per
        feature and the output layer one per class.
    layers : str or None, default=None
        A chapter-6 layer network instead, written as ``glassnet train --layers`` takes it
        (``glassnet.training.layerspec``), e.g. ``"conv20x5,pool2,fc100"``; the softmax output
        layer is added.  Square numbers of features are images (1, side, side) for conv
        layers.  ``activation`` is the layers' default activation; the cost is the
        log-likelihood and ``init``, ``cost`` and ``hidden_layer_sizes`` are then not used;
        L2 follows network3 (lambda divided by the number of mini-batches).
    epochs : int, default=100
        Passes over the training data in ``fit``.
    mini_batch_size : int, default=32
    eta : float, default=0.02
        Learning rate (a step is eta times the mini-batch's mean gradient).
    cost : {"quadratic", "cross-entropy", "log-likelihood"}, default="log-likelihood"
        "log-likelihood" gives a softmax output layer, the others a sigmoid one.
    activation : {"sigmoid", "tanh", "relu"}, default="relu"
        Hidden-layer activation.
    init : {"standard", "scaled", "he"}, default="he"
        Initial weights N(0, 1) (the book's chapter 1), N(0, 1/n_in) (chapter 3) or
        N(0, 2/n_in) (suited to ReLU).
    l2 : float, default=50.0
        L2 regularisation strength, the book's lambda (cost + lambda/(2n) sum w^2).
    momentum : float in [0, 1), default=0.9
    schedule : {"constant", "halve", "cosine"}, default="constant"
        "halve" needs validation accuracy, so it holds out ``validation_fraction`` as
        ``early_stop`` does.  ``partial_fit`` follows "cosine" over ``epochs`` calls
        and treats "halve" as "constant".
    early_stop : int or None, default=None
        Stop after this many epochs without a better accuracy on a held-out part
        (``validation_fraction`` of the training data) and keep the best weights.
    validation_fraction : float in (0, 1), default=0.1
        Only used with ``early_stop`` (or ``schedule="halve"``).
    dtype : str, default="float32"
        Floating type of the network's parameters and computations.
    random_state : int, numpy Generator, RandomState or None, default=None
        One ``numpy.random.Generator`` made from it draws the validation split, the
        initial weights and every epoch's shuffle.  An int gives the same model on
        every fit.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted; output neuron ``k`` stands for ``classes_[k]``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str (only when fitted on a DataFrame with string columns)
    network_ : glassnet.Network, or a LayerNetwork with ``layers``
    history_ : list of dict
        One record per epoch (``glassnet.training.fit``'s history): training cost and
        accuracy on all the training data and, with a held-out part, validation cost/accuracy.
    n_iter_ : int
        Epochs run.
    best_epoch_ : int or None
        Epoch of the best validation accuracy (with a held-out part).
    stopped_ : str
        Why training ended: "completed", "early-stop" or "schedule".
    """

    def __init__(self, hidden_layer_sizes=(100,), epochs=100, mini_batch_size=32, eta=0.02,
                 cost="log-likelihood", activation="relu", init="he", l2=50.0, momentum=0.9,
                 schedule="constant", early_stop=None, validation_fraction=0.1, dtype="float32",
                 random_state=None, layers=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.layers = layers
        self.epochs = epochs
        self.mini_batch_size = mini_batch_size
        self.eta = eta
        self.cost = cost
        self.activation = activation
        self.init = init
        self.l2 = l2
        self.momentum = momentum
        self.schedule = schedule
        self.early_stop = early_stop
        self.validation_fraction = validation_fraction
        self.dtype = dtype
        self.random_state = random_state

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X, y):
        """Train a new network on X (n_samples, n_features) and labels y (n_samples,)."""
        dtype = self._dtype()
        config = self._config(self.epochs, self.eta, self.schedule)
        X, y = validate_data(self, X, y, dtype=dtype)
        check_classification_targets(y)
        self.classes_, yi = np.unique(y, return_inverse=True)
        yi = yi.reshape(-1)
        rng = self._generator()
        validation = None
        if self.early_stop is not None or self.schedule == "halve":
            frac = self.validation_fraction
            if not (isinstance(frac, numbers.Real) and 0 < frac < 1):
                raise ValueError(f"validation_fraction must lie in (0, 1), got {frac!r}")
            n_val = max(1, int(round(frac * len(X))))
            if len(X) - n_val < 1:
                raise ValueError(f"early_stop holds out validation_fraction={frac} of the data and needs "
                                 f"at least 2 samples, got {len(X)}")
            order = rng.permutation(len(X))
            validation = (X[order[:n_val]], yi[order[:n_val]])
            X, yi = X[order[n_val:]], yi[order[n_val:]]
        self.network_ = self._new_network(X.shape[1], len(self.classes_), rng, dtype)
        self.optimizer_ = make_optimizer(self.momentum)      # partial_fit continues it
        result = _fit(self.network_, (X, yi), config, validation=validation, optimizer=self.optimizer_)
        self.history_ = result.history
        self.n_iter_ = len(result.history)
        self.best_epoch_ = result.best_epoch
        self.stopped_ = result.stopped
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch of SGD on (X, y), starting a network on the first call.

        ``classes`` (every label that will ever be seen) is required on the first call;
        later calls may leave it out.  No data is held out: ``early_stop`` is not applied
        and ``schedule="halve"`` acts as "constant".  Each call is one epoch of
        ``glassnet.training.fit`` continuing the same optimizer (``optimizer_``: momentum's
        velocities carry over from call to call), so n calls on the same data give exactly
        the network ``fit`` gives with ``epochs=n``.
        """
        first = not hasattr(self, "network_")
        dtype = self._dtype()
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            classes = np.unique(np.asarray(classes))
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes of the first call "
                             f"{self.classes_!r}")
        X, y = validate_data(self, X, y, dtype=dtype if first else self.network_.dtype, reset=first)
        check_classification_targets(y)
        known = classes if first else self.classes_
        yi = np.searchsorted(known, y)
        unknown = (yi >= len(known)) | (known[np.minimum(yi, len(known) - 1)] != y)
        if np.any(unknown):
            raise ValueError(f"y holds labels not in classes: {np.unique(y[unknown])!r}")
        if first:
            self.classes_ = known
            self.network_ = self._new_network(X.shape[1], len(known), self._generator(), dtype)
            self.history_ = []
        if getattr(self, "optimizer_", None) is None or self.optimizer_.momentum != float(self.momentum):
            self.optimizer_ = make_optimizer(self.momentum)    # first call, or momentum changed by set_params
        t = len(self.history_)
        eta = self.eta
        if self.schedule == "cosine":     # the schedule fit follows, one epoch per call
            eta = cosine_eta(self.eta, t, max(int(self.epochs), 1))
        config = self._config(1, float(eta), "constant")
        result = _fit(self.network_, (X, yi), config, optimizer=self.optimizer_)
        for record in result.history:
            record["epoch"] = t
        self.history_ = self.history_ + result.history
        self.n_iter_ = len(self.history_)
        self.best_epoch_ = None
        self.stopped_ = result.stopped
        return self

    # -- prediction --------------------------------------------------------------------------
    def predict_proba(self, X):
        """Class scores (n_samples, n_classes), rows summing to 1: softmax outputs as they are,
        sigmoid (or other) outputs divided by their sum (a score, not a calibrated probability)."""
        outputs = self._outputs(X)
        output = getattr(self.network_, "output_activation", None)
        return as_probabilities(outputs, "softmax" if output is None else output.name)

    def predict(self, X):
        """The label of the most active output neuron for each row of X."""
        index = np.argmax(self._outputs(X), axis=1)
        return self.classes_[index]

    def _outputs(self, X):
        """Output activations (n_samples, n_classes), computed in float64: through a float64
        copy of the network, every row's output is independent of the batch it came in with
        (BLAS blocks float32 products differently for different batch sizes), to ~1e-16."""
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=self.network_.dtype)
        return self.network_.astype(np.float64).feedforward(np.asarray(X, dtype=np.float64))

    # -- helpers -----------------------------------------------------------------------------
    def _dtype(self):
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            raise ValueError(f"dtype must be a floating type, got {self.dtype!r}") from None
        if dtype.kind != "f":
            raise ValueError(f"dtype must be a floating type, got {self.dtype!r}")
        return dtype

    def _config(self, epochs, eta, schedule):
        for name in ("epochs", "mini_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if self.early_stop is not None and not isinstance(self.early_stop, numbers.Integral):
            raise ValueError(f"early_stop must be an integer or None, got {self.early_stop!r}")
        return TrainingConfig(epochs=int(epochs), mini_batch_size=int(self.mini_batch_size), eta=eta,
                              l2=self.l2, momentum=self.momentum, schedule=schedule,
                              early_stop=self.early_stop, monitor_training=None,
                              keep_best=self.early_stop is not None or schedule == "halve")

    def _hidden(self):
        hidden = self.hidden_layer_sizes
        hidden = [hidden] if isinstance(hidden, numbers.Integral) else list(hidden)
        if not all(isinstance(h, numbers.Integral) and h >= 1 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        return [int(h) for h in hidden]

    def _generator(self):
        rs = self.random_state
        if isinstance(rs, np.random.Generator):
            return rs
        if isinstance(rs, np.random.RandomState):
            return np.random.default_rng(rs.randint(np.iinfo(np.int32).max))
        if rs is None or (isinstance(rs, numbers.Integral) and not isinstance(rs, bool)):
            return np.random.default_rng(rs)
        raise ValueError(f"random_state must be None, an int, a numpy Generator or RandomState, got {rs!r}")

    def _new_network(self, n_in, n_classes, rng, dtype):
        """The network of the parameters (``training.runs.network_from_options``, as every run's):
        the layers on (1, side, side) images when n_in is a square, else on rows of n_in values."""
        if self.layers is not None:
            if not isinstance(self.layers, str):
                raise ValueError(f"layers must be a string such as 'conv20x5,pool2,fc100', got {self.layers!r}")
            side = math.isqrt(n_in)
            shape = (1, side, side) if side * side == n_in else (n_in,)
            options = dict(layers=self.layers, activation=self.activation)
        else:
            shape = (n_in,)
            options = dict(sizes=[n_in, *self._hidden(), n_classes], cost=self.cost, activation=self.activation,
                           init=self.init)
        net = network_from_options(options, shape, n_classes, rng, dtype=dtype)
        # the Generator itself drives the network; record an int seed only (saved headers are JSON)
        net.seed = int(self.random_state) if isinstance(self.random_state, numbers.Integral) else None
        return net

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags
