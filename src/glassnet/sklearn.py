"""A scikit-learn classifier around glassnet's Network and training loop.

    from glassnet.sklearn import GlassnetClassifier
    clf = GlassnetClassifier(hidden_layer_sizes=(30,), epochs=30, eta=3.0, random_state=0)
    clf.fit(X, y).score(X_test, y_test)

It is an ordinary estimator (``BaseEstimator`` + ``ClassifierMixin``): it works in
pipelines, ``GridSearchCV``, ``clone`` and pickle, and passes scikit-learn's
``check_estimator``.  Training is ``glassnet.training.fit`` on a
``glassnet.network.Network`` with one output neuron per class; ``network_`` is that
Network after fitting and ``history_`` the per-epoch records ``fit`` returns.

Needs scikit-learn >= 1.6 (the extra ``sklearn``: ``pip install "glassnet[sklearn]"``).
"""
from __future__ import annotations

import numbers

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError:        # no scikit-learn, or one older than 1.6 (no validate_data)
    raise ImportError("glassnet.sklearn needs scikit-learn >= 1.6: pip install \"glassnet[sklearn]\"") from None

from .functions import get_activation, get_cost
from .network import Network
from .training import TrainingConfig, fit as _fit

__all__ = ["GlassnetClassifier"]


class GlassnetClassifier(ClassifierMixin, BaseEstimator):
    """Nielsen's network as a scikit-learn classifier, trained by mini-batch SGD.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(30,)
        Neurons per hidden layer; ``()`` for none.  The input layer has one neuron per
        feature and the output layer one per class.
    epochs : int, default=30
        Passes over the training data in ``fit``.
    mini_batch_size : int, default=10
    eta : float, default=3.0
        Learning rate.
    cost : {"quadratic", "cross-entropy", "log-likelihood"}, default="quadratic"
        "log-likelihood" gives a softmax output layer.
    activation : {"sigmoid", "tanh", "relu"}, default="sigmoid"
        Hidden-layer activation.
    init : {"standard", "scaled", "he"}, default="standard"
    l2 : float, default=0.0
        L2 regularisation strength (the book's lambda).
    momentum : float in [0, 1), default=0.0
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
    network_ : glassnet.network.Network
    history_ : list of dict
        One record per epoch: training cost/accuracy and, with a held-out part,
        validation cost/accuracy (``glassnet.network.Network.epoch_record``).
    n_iter_ : int
        Epochs run.
    best_epoch_ : int or None
        Epoch of the best validation accuracy (with a held-out part).
    stopped_ : str
        Why training ended: "completed", "early-stop" or "schedule".
    """

    def __init__(self, hidden_layer_sizes=(30,), epochs=30, mini_batch_size=10, eta=3.0,
                 cost="quadratic", activation="sigmoid", init="standard", l2=0.0, momentum=0.0,
                 schedule="constant", early_stop=None, validation_fraction=0.1, dtype="float32",
                 random_state=None):
        self.hidden_layer_sizes = hidden_layer_sizes
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
        result = _fit(self.network_, (X, yi), config, validation=validation)
        self.history_ = result.history
        self.n_iter_ = len(result.history)
        self.best_epoch_ = result.best_epoch
        self.stopped_ = result.stopped
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch of SGD on (X, y), starting a network on the first call.

        ``classes`` (every label that will ever be seen) is required on the first call;
        later calls may leave it out.  With the same ``random_state`` and data, n calls
        give the same network as ``fit`` with ``epochs=n``.  No data is held out:
        ``early_stop`` is not applied and ``schedule="halve"`` acts as "constant".
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
        t = len(self.history_)
        eta = self.eta
        if self.schedule == "cosine":     # the schedule fit follows, one epoch per call
            epochs = max(int(self.epochs), 1)
            eta = self.eta * 0.5 * (1 + np.cos(np.pi * min(t, epochs - 1) / epochs))
        config = self._config(1, float(eta), "constant")
        result = _fit(self.network_, (X, yi), config)
        for record in result.history:
            record["epoch"] = t
        self.history_ = self.history_ + result.history
        self.n_iter_ = len(self.history_)
        self.best_epoch_ = None
        self.stopped_ = result.stopped
        return self

    # -- prediction --------------------------------------------------------------------------
    def predict_proba(self, X):
        """Class scores, rows summing to 1: softmax outputs as they are, sigmoid (or other)
        outputs divided by their sum (a score, not a calibrated probability)."""
        A = self._outputs(X)
        if self.network_.output_activation.name == "softmax":
            return A
        A = np.clip(A, 0.0, None)
        total = A.sum(axis=1, keepdims=True)
        return np.where(total > 0, A / np.where(total > 0, total, 1.0), 1.0 / A.shape[1])

    def predict(self, X):
        """The label of the most active output neuron for each row of X."""
        index = np.argmax(self._outputs(X), axis=1)
        return self.classes_[index]

    def _outputs(self, X):
        check_is_fitted(self, "network_")
        net = self.network_
        X = validate_data(self, X, reset=False, dtype=net.dtype)
        # rows one at a time would give the same float32 results only up to rounding
        # (BLAS blocks differently); computing in float64 makes every row's output
        # independent of the batch it came in, to ~1e-16
        A = np.asarray(X, dtype=np.float64)
        for w, b, act in zip(net.weights, net.biases, net._activations()):
            A = act(A @ w.T.astype(np.float64) + b.astype(np.float64))
        return A

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
                              lmbda=self.l2, momentum=self.momentum, schedule=schedule,
                              early_stop=self.early_stop,
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
        net = Network([n_in, *self._hidden(), n_classes], seed=rng, cost=self.cost,
                      activation=self.activation, init=self.init, dtype=dtype)
        # the Generator itself drives the network; record an int seed only (saved headers are JSON)
        net.seed = int(self.random_state) if isinstance(self.random_state, numbers.Integral) else None
        return net

    def __getstate__(self):
        state = super().__getstate__()
        if isinstance(state.get("network_"), Network):
            state = dict(state, network_=_PicklableNetwork(state["network_"]))
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags


class _PicklableNetwork:
    """Pickles a Network by the names of its activations and cost (their tables hold
    lambdas, which pickle cannot store); unpickles straight back into a Network."""

    def __init__(self, network):
        self.network = network

    def __reduce__(self):
        d = dict(vars(self.network))
        for key in ("cost", "activation", "output_activation"):
            d[key] = d[key].name
        return _rebuild_network, (d,)


def _rebuild_network(d):
    net = Network.__new__(Network)
    net.__dict__.update(d)
    net.cost = get_cost(d["cost"])
    net.activation = get_activation(d["activation"])
    net.output_activation = get_activation(d["output_activation"])
    return net
