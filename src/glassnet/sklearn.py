"""A scikit-learn classifier around glassnet's networks and training loop.

    from glassnet.sklearn import GlassnetClassifier
    clf = make_pipeline(StandardScaler(), GlassnetClassifier(random_state=0))
    clf.fit(X, y).score(X_test, y_test)

It is an ordinary estimator (``BaseEstimator`` + ``ClassifierMixin``): it works in
pipelines, ``GridSearchCV``, ``clone`` and pickle, and passes scikit-learn's
``check_estimator`` but for one check that no stochastic trainer meets (a weight of 2 is
not exactly a repeated sample: see ``fit``).  It speaks ``MLPClassifier``'s language where
that has a name for the idea -- ``max_iter`` and ``n_iter_``, ``verbose``, ``warm_start``,
``early_stopping``, ``validation_fraction``, ``n_iter_no_change``, ``loss_curve_``,
``validation_scores_``, ``sample_weight`` -- and ``SGDClassifier``'s ``class_weight``;
``optimizer`` ("sgd" or "adam") and ``schedule`` (one-cycle too) are ``glassnet train``'s.
Training is ``glassnet.training.fit`` on a ``glassnet.Network`` (or, with ``layers``, a
chapter-6 ``LayerNetwork``) with one output neuron per class; ``network_`` is that network
after fitting and ``history_`` the per-epoch records ``fit`` returns.

The defaults are a modern recipe (ReLU, softmax, He init, momentum, L2), chosen so that
on scikit-learn's small data sets it matches or beats ``MLPClassifier()`` with its
defaults (``benchmarks/bench_estimator.py``); the same defaults train layer networks
(``GlassnetClassifier(layers="conv20x5,pool2,fc100")`` scores 0.97-0.99 on the 8x8 digits
after a ``StandardScaler``, 70/30 splits, seeds 0-9).  The book's chapter 1 network is
``GlassnetClassifier(**BOOK_CHAPTER_1)``.

A fitted estimator, or a ``Pipeline`` of StandardScaler, MinMaxScaler or MaxAbsScaler steps
ending in one, is written as ONNX by ``glassnet.io.onnx.export_onnx(pipeline, "model.onnx")``
(this module registers the converter): input "input" (N, n_features), outputs "label" (N,)
and "probabilities" (N, n_classes), ``predict`` and ``predict_proba`` to float tolerance.

Needs scikit-learn >= 1.6 (the extra ``sklearn``: ``pip install "glassnet[sklearn]"``).
"""

from __future__ import annotations

import json
import math
import numbers
import signal
import threading
import warnings
from contextlib import contextmanager

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
    from sklearn.utils.class_weight import compute_sample_weight
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError:  # no scikit-learn, or one older than 1.6 (no validate_data)
    raise ImportError("glassnet.sklearn needs scikit-learn >= 1.6: pip install \"glassnet[sklearn]\"") from None

from .core.functions import as_probabilities
from .core.model import resolve_engine
from .errors import InputError
from .io.onnx import ClassifierParts, LayerSpec, register_converter
from .training import fit as _fit
from .training import make_optimizer
from .training.optimizers import OPTIMIZERS
from .training.runs import config_from_options, network_from_options
from .training.schedules import SCHEDULES, cosine_eta, one_cycle_epoch

__all__ = ["GlassnetClassifier", "BOOK_CHAPTER_1"]

#: the arguments that give the book's chapter 1 network and training: sigmoid neurons,
#: quadratic cost, N(0, 1) weights, 30 hidden neurons, 30 epochs of plain SGD, batches of 10, eta 3
BOOK_CHAPTER_1 = dict(
    hidden_layer_sizes=(30,),
    max_iter=30,
    mini_batch_size=10,
    eta=3.0,
    cost="quadratic",
    activation="sigmoid",
    init="standard",
    l2=0.0,
    momentum=0.0,
)

#: the default of a parameter kept only as a deprecated alias: "not given"
_DEPRECATED = "deprecated"


def _given(value):
    return not (isinstance(value, str) and value == _DEPRECATED)


# -- weighted fits: a weighted draw of the examples each epoch -----------------------------------
def _weighted_order(p, size, rng):
    """``size`` row numbers drawn from ``rng``, row i about size * p[i] times (p (n,) sums to 1):
    its whole part surely and its fraction by a draw (residual resampling, so on average
    exactly size * p[i] times), in a random order."""
    expected = size * p
    counts = np.floor(expected).astype(np.int64)
    rest = size - int(counts.sum())
    if rest > 0:
        residual = expected - counts
        counts += np.bincount(rng.choice(len(p), size=rest, p=residual / residual.sum()), minlength=len(p))
    return rng.permutation(np.repeat(np.arange(len(p)), counts))


class _InnerEngine:
    """An engine (``core.model``'s engine protocol) that changes what one epoch hands ``inner``,
    the engine "auto" picks for the network, which takes the steps; prepared with ``inner``,
    and named as it is."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name

    def prepare(self, X):
        self.inner = self.inner.prepare(X)
        self.name = self.inner.name
        return self


class _WeightedEpochs(_InnerEngine):
    """For a weighted fit: every epoch steps through a weighted draw of the rows
    (``_weighted_order``, from the network's Generator) in place of the loop's shuffle (the
    engines read any row numbers, a row twice too).  On average a mini-batch step is then eta
    times the weighted mean gradient sum_i w_i dC_i / sum_i w_i."""

    def __init__(self, weights, inner):
        super().__init__(inner)
        self.p = np.asarray(weights, dtype=np.float64) / np.sum(weights)

    def epoch(self, network, X, T, order, mini_batch_size, eta, optimizer=None, on_batch=None):
        drawn = _weighted_order(self.p, len(order), network.rng)
        self.inner.epoch(network, X, T, drawn, mini_batch_size, eta, optimizer, on_batch)


class _RatesOfAnEpoch(_InnerEngine):
    """For ``partial_fit``'s one epoch of a one-cycle run: ``inner`` takes the steps at
    ``etas`` (n_batches,), one rate per mini-batch (``schedules.one_cycle_epoch``), in place of
    the loop's rate -- the loop counts a run's steps from its own first epoch, and a call of
    ``partial_fit`` is epoch j of ``max_iter``."""

    def __init__(self, etas, inner):
        super().__init__(inner)
        self.etas = np.asarray(etas, dtype=np.float64)

    def epoch(self, network, X, T, order, mini_batch_size, eta, optimizer=None, on_batch=None):
        self.inner.epoch(network, X, T, order, mini_batch_size, self.etas, optimizer, on_batch)


@contextmanager
def _ctrl_c_stops(event):
    """Within the block, Ctrl-C (SIGINT) sets ``event`` -- ``training.fit``'s ``stop``: the run
    ends after its current mini-batch -- instead of raising KeyboardInterrupt (main thread
    only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: event.set())
    try:
        yield
    finally:  # None: a handler set outside Python, which cannot be put back from here
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)


# -- ONNX: the estimator and its pipelines as glassnet.io.onnx's ClassifierParts -----------------
def _scaler_specs(name, step):
    """The "elementwise" LayerSpecs of one fitted scaler in a pipeline, in the order its
    ``transform`` computes them (StandardScaler: - mean_, / scale_; MinMaxScaler: * scale_,
    + min_, then clipped with clip=True; MaxAbsScaler: / scale_); InputError for other steps."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return []
    kind = type(step)  # the very classes: a subclass may transform otherwise
    if kind not in (StandardScaler, MinMaxScaler, MaxAbsScaler):
        raise InputError(
            f"pipeline step {name!r} is a {kind.__name__}: ONNX export takes StandardScaler, "
            "MinMaxScaler and MaxAbsScaler steps before a GlassnetClassifier"
        )
    check_is_fitted(step)
    if kind is StandardScaler:
        ops = [("Sub", step.mean_)] if step.with_mean else []
        ops += [("Div", step.scale_)] if step.with_std else []
    elif kind is MaxAbsScaler:
        ops = [("Div", step.scale_)]
    else:
        ops = [("Mul", step.scale_), ("Add", step.min_)]
        ops += [("Max", step.feature_range[0]), ("Min", step.feature_range[1])] if step.clip else []
    return [LayerSpec("elementwise", {"op": op, "value": np.asarray(value, dtype=np.float64)}) for op, value in ops]


def _onnx_parts(obj):
    """``glassnet.io.onnx``'s converter for this module: a fitted ``GlassnetClassifier``, or a
    ``Pipeline`` of scalers ending in one, as ``ClassifierParts`` -- the scalers' steps, then
    the input rounded to the network's dtype (``predict`` casts X to it) -- or None."""
    metadata = {"estimator": "GlassnetClassifier"}
    if isinstance(obj, Pipeline) and obj.steps and isinstance(obj.steps[-1][1], GlassnetClassifier):
        steps, final = obj.steps[:-1], obj.steps[-1][1]
        metadata["pipeline"] = json.dumps(
            [[name, step if isinstance(step, str) or step is None else type(step).__name__] for name, step in obj.steps]
        )
    elif isinstance(obj, GlassnetClassifier):
        steps, final = [], obj
    else:
        return None
    if not hasattr(final, "network_"):
        raise InputError("the GlassnetClassifier is not fitted: fit it before exporting it")
    specs = [spec for name, step in steps for spec in _scaler_specs(name, step)]
    specs.append(LayerSpec("round", {"dtype": np.dtype(final.network_.dtype).name}))
    return ClassifierParts(specs, final.network_, final.classes_, int(final.n_features_in_), metadata)


register_converter(_onnx_parts)


class GlassnetClassifier(ClassifierMixin, BaseEstimator):
    """A feedforward network trained by mini-batch SGD with momentum (or Adam), as a scikit-learn classifier.

    The defaults: one hidden layer of 100 ReLU neurons with He-initialised weights, a
    softmax output layer with the log-likelihood cost, mini-batches of 32, eta 0.02,
    momentum 0.9, L2 strength 50 (the book's lambda per training example: see ``l2``),
    100 epochs, no held-out part.  Scale the features first (``StandardScaler``).  With
    these, in ``Pipeline([StandardScaler(), clf])`` on stratified 60/40 splits, the median
    test accuracy over 100 splits matches or beats ``MLPClassifier()``'s on the digits,
    iris, wine and breast-cancer data sets (``benchmarks/bench_estimator.py``).  The same
    defaults train chapter 6's layer networks (``layers=``).

    The book's chapter 1 network (sigmoid, quadratic cost, N(0, 1) weights, plain SGD) is
    ``GlassnetClassifier(hidden_layer_sizes=(30,), max_iter=30, mini_batch_size=10, eta=3.0,
    cost="quadratic", activation="sigmoid", init="standard", l2=0.0, momentum=0.0)``,
    also written ``GlassnetClassifier(**BOOK_CHAPTER_1)``; chapter 3's adds
    ``cost="cross-entropy", init="scaled", l2=5.0`` (for MNIST's 50,000 images).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Neurons per hidden layer; ``()`` for none.  The input layer has one neuron per
        feature and the output layer one per class.
    max_iter : int, default=100
        Epochs (passes over the training data) in ``fit``; fewer when early stopping stops.
        Unlike MLPClassifier, training without ``early_stopping`` always runs them all (no
        ``tol`` test on the training loss, so no ConvergenceWarning).
    mini_batch_size : int, default=32
        Examples per step (MLPClassifier's ``batch_size``).
    eta : float, default=0.02
        Learning rate (a step is eta times the mini-batch's mean gradient); with
        ``optimizer="adam"``, Adam's step size (each parameter moves by about eta at most
        a step; 0.001 to 0.02 train the 8x8 digits well).
    cost : {"quadratic", "cross-entropy", "log-likelihood"}, default="log-likelihood"
        "log-likelihood" gives a softmax output layer, the others a sigmoid one.
    activation : {"sigmoid", "tanh", "relu"}, default="relu"
        Hidden-layer activation (with ``layers``: the layers' default activation).
    init : {"standard", "scaled", "he"}, default="he"
        Initial weights N(0, 1) (the book's chapter 1), N(0, 1/n_in) (chapter 3) or
        N(0, 2/n_in) (suited to ReLU).
    l2 : float, default=50.0
        L2 strength, the book's lambda per training example: the cost gains
        l2/(2n) sum w^2 (n training examples) and every step shrinks each weight by
        eta l2 / n, the book's weight decay (eq. 93).  It means this for both kinds of
        network: a layer network's own L2 term (network3's: lambda over the number of
        mini-batches, inside the gradient and so inside momentum, which multiplies a
        steady push by 1/(1 - momentum)) is given l2 (1 - momentum) n_batches / n, so
        that its weights shrink by the same eta l2 / n a step (exactly so without
        momentum; in the long run with it).  With momentum mu, either kind then minimises
        the cost plus (1 - mu) l2/(2n) sum w^2.  With Adam (no momentum here) the two
        kinds differ: a layer network's L2 term is in the gradient Adam scales (coupled,
        as Adam's weight decay: it minimises the cost plus l2/(2n) sum w^2), while the
        book's network shrinks its weights by eta l2 / n a step outside Adam's moments
        (decoupled, as AdamW: no penalised cost is minimised), so with Adam one l2 is not
        the same strength for both.
    momentum : float in [0, 1), default=0.9
        Momentum of SGD (the book's chapter 3; 0: plain SGD).  Not used with
        ``optimizer="adam"``, which keeps its own (beta1 = 0.9), as MLPClassifier's
        ``momentum`` is used only by its "sgd" solver.
    schedule : {"constant", "halve", "cosine", "one-cycle"}, default="constant"
        The rate through a run, as ``glassnet train --schedule`` names it
        (``glassnet.training.schedules``).  "halve" halves eta after ``n_iter_no_change``
        epochs without a better validation accuracy, so it holds out
        ``validation_fraction`` as ``early_stopping`` does.  "cosine" falls from eta to
        near 0 epoch by epoch.  "one-cycle" changes the rate every mini-batch: up from
        eta/25 to eta over the first quarter of the run's steps, then down (cosine) to
        eta/10000 at its last.  ``partial_fit`` follows "cosine" and "one-cycle" over
        ``max_iter`` calls (call j is epoch j of such a run; calls past ``max_iter`` keep
        the last rate) and treats "halve" as "constant"; a warm-started ``fit`` runs the
        schedule afresh over its ``max_iter`` epochs.
    optimizer : {"sgd", "adam"}, default="sgd"
        How a mini-batch's gradient moves the parameters, as ``glassnet train --optimizer``
        names it (``glassnet.training.optimizers``): "sgd" is the book's SGD, with
        ``momentum`` when it is above 0; "adam" is Adam (Kingma and Ba, 2015; beta1 0.9,
        beta2 0.999, eps 1e-8), eta its step size, ``momentum`` not used.  Adam's moment
        estimates m and v and its step count t (which its bias correction divides by) live
        in ``optimizer_`` and carry on as momentum's velocities do: from ``partial_fit``
        call to call and into a warm-started ``fit`` (so n calls of ``partial_fit`` of an
        estimator with ``max_iter=n`` are ``fit``, and two warm fits of k epochs one fit of 2k with a
        constant rate); they start at zero, with t = 0, with a new network (a cold ``fit``,
        the first ``partial_fit``), when ``set_params`` has changed ``optimizer`` (or SGD's
        ``momentum``) since, and after ``glassnet.load`` (files keep the network only).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified by class), stop
        after ``n_iter_no_change`` epochs without a better accuracy on it and keep the
        weights of its best epoch.
    validation_fraction : float in (0, 1), default=0.1
        Only used with ``early_stopping`` (or ``schedule="halve"``).
    n_iter_no_change : int, default=10
        Epochs without a better validation accuracy before early stopping stops (or
        "halve" halves eta).
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplying ``sample_weight``: ``{label: weight}``, or
        "balanced" (n_samples / (n_classes * count of the class), as in scikit-learn;
        not with ``partial_fit``, which sees one chunk at a time).
    warm_start : bool, default=False
        With a fitted network, ``fit`` trains it on for ``max_iter`` more epochs instead of
        starting a new one, its optimizer's state too (``optimizer_``: momentum's
        velocities, or Adam's moments and step count); the data must have the same
        features and classes, and architecture parameters changed since are not applied.
    verbose : bool or int, default=False
        Print each epoch's training loss (``"Iteration 3, loss = 0.12345678"``, and the
        validation accuracy with early stopping) to stdout, as MLPClassifier does.
    dtype : str, default="float32"
        Floating type of the network's parameters and training computations (``predict``
        and ``predict_proba`` compute in float64 from the input cast to it).
    random_state : int, numpy Generator, RandomState or None, default=None
        One ``numpy.random.Generator`` made from it draws the validation split, the
        initial weights, every epoch's shuffle and a weighted fit's draws.  An int gives
        the same model on every fit.
    layers : str or None, default=None
        A chapter-6 layer network instead, written as ``glassnet train --layers`` takes it
        (``glassnet.training.layerspec``), e.g. ``"conv20x5,pool2,fc100"``; the softmax output
        layer is added.  Square numbers of features are images (1, side, side) for conv
        layers.  The cost is then the log-likelihood, and ``init``, ``cost`` and
        ``hidden_layer_sizes`` are not used.
    epochs : int, deprecated
        The former name of ``max_iter`` (a FutureWarning).
    early_stop : int or None, deprecated
        The former way to ask for early stopping: ``early_stop=k`` is
        ``early_stopping=True, n_iter_no_change=k`` (a FutureWarning).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted; output neuron ``k`` stands for ``classes_[k]``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str (only when fitted on a DataFrame with string columns)
    network_ : glassnet.Network, or a LayerNetwork with ``layers``
    optimizer_ : the optimizer that ``partial_fit`` and warm starts continue
        (``glassnet.training.optimizers``: ``SGD``, ``Momentum`` with its velocities, or
        ``Adam`` with its moment estimates ``m``, ``v`` and step count ``t``)
    history_ : list of dict
        One record per epoch (``glassnet.training.fit``'s history): training cost and
        accuracy on all the training data and, with a held-out part, validation cost/accuracy.
    n_iter_ : int
        Epochs the network has been trained: ``fit``'s, and those of warm-started fits and
        ``partial_fit`` calls after it (``len(history_)``).
    loss_curve_ : list of float
        The training cost after each epoch (the mean cost of the training examples,
        unweighted, without the L2 term; MLPClassifier's is a running mean during the
        epoch, weighted, with its penalty).
    loss_ : float
        The last of ``loss_curve_``.
    validation_scores_ : list of float or None
        The validation accuracy after each epoch (with a held-out part, else None).
    best_validation_score_ : float or None
        The best of ``validation_scores_``.
    best_epoch_ : int or None
        Epoch of the best validation accuracy (with a held-out part).
    stopped_ : str
        Why training ended: "completed", "early-stop", "schedule" or "interrupted" (Ctrl-C
        during ``fit``: training stops after the current mini-batch, with a warning, and the
        network is kept as it stands, as MLPClassifier keeps its own).
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        max_iter=100,
        mini_batch_size=32,
        eta=0.02,
        cost="log-likelihood",
        activation="relu",
        init="he",
        l2=50.0,
        momentum=0.9,
        schedule="constant",
        *,
        optimizer="sgd",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        class_weight=None,
        warm_start=False,
        verbose=False,
        dtype="float32",
        random_state=None,
        layers=None,
        epochs=_DEPRECATED,
        early_stop=_DEPRECATED,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.layers = layers
        self.max_iter = max_iter
        self.mini_batch_size = mini_batch_size
        self.eta = eta
        self.cost = cost
        self.activation = activation
        self.init = init
        self.l2 = l2
        self.momentum = momentum
        self.schedule = schedule
        self.optimizer = optimizer
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.verbose = verbose
        self.dtype = dtype
        self.random_state = random_state
        self.epochs = epochs
        self.early_stop = early_stop

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Train on X (n_samples, n_features) and labels y (n_samples,); returns self.

        A new network each call, unless ``warm_start`` and fitted: then the network trains
        on.  ``sample_weight`` (n_samples,), times ``class_weight``'s, weights each example's
        share of the gradient by resampling: every epoch steps through n examples drawn
        from the estimator's Generator, example i about n w_i / sum(w) times (the whole
        part surely, the fraction by a draw), so that a step is on average eta times the
        weighted mean gradient sum_i w_i dC_i / sum_i w_i -- MLPClassifier's weighted loss,
        reached by sampling rather than by scaling (the core's networks take the mean
        gradient of a mini-batch).  A weight of 0 leaves an example out; equal weights are
        the unweighted fit exactly; a weight of 2 is a repeated example only on average.
        The held-out part of early stopping is scored unweighted.
        """
        settings = self._settings()
        warm = bool(self.warm_start) and hasattr(self, "network_")
        dtype = self.network_.dtype if warm else self._dtype()
        X, y = validate_data(self, X, y, dtype=dtype, reset=not warm)
        check_classification_targets(y)
        classes, yi = np.unique(y, return_inverse=True)
        if warm and not np.array_equal(classes, self.classes_):
            raise ValueError(f"warm_start needs the classes of the previous fit, {self.classes_!r}; got {classes!r}")
        weights = self._weights(y, sample_weight, incremental=False)
        rng = self._generator()
        train, validation = self._held_out(X, yi.reshape(-1), weights, rng, settings)
        if not warm:
            self.classes_ = classes
            self.network_ = self._new_network(X.shape[1], len(classes), rng, dtype)
            self.optimizer_, self.history_ = None, []
        return self._train(train, validation, settings, settings["max_iter"], self.eta, self.schedule)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of training (SGD or Adam) on (X, y), starting a network on the first call.

        ``classes`` (every label that will ever be seen) is required on the first call;
        later calls may leave it out.  No data is held out: ``early_stopping`` is not applied
        and ``schedule="halve"`` acts as "constant"; "cosine" and "one-cycle" give call j
        the rates of epoch j of a ``max_iter``-epoch run.  Each call is one epoch of
        ``glassnet.training.fit`` continuing the same optimizer (``optimizer_``: momentum's
        velocities, or Adam's moments and step count, carry over from call to call), so n
        calls on the same data of an estimator with ``max_iter=n`` give exactly the network
        its ``fit`` gives.
        ``sample_weight`` as in ``fit`` (``class_weight="balanced"`` is refused: one chunk
        does not tell the classes' shares).
        """
        settings = self._settings()
        first = not hasattr(self, "network_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        known = np.unique(np.asarray(classes)) if first else self.classes_
        if not first and classes is not None and not np.array_equal(np.unique(np.asarray(classes)), known):
            raise ValueError(f"classes={classes!r} differs from the classes of the first call {known!r}")
        dtype = self._dtype() if first else self.network_.dtype
        X, y = validate_data(self, X, y, dtype=dtype, reset=first)
        check_classification_targets(y)
        yi = np.searchsorted(known, y)
        unknown = (yi >= len(known)) | (known[np.minimum(yi, len(known) - 1)] != y)
        if np.any(unknown):
            raise ValueError(f"y holds labels not in classes: {np.unique(y[unknown])!r}")
        weights = self._weights(y, sample_weight, incremental=True)
        if first:
            self.classes_ = known
            self.network_ = self._new_network(X.shape[1], len(known), self._generator(), dtype)
            self.optimizer_, self.history_ = None, []
        # the schedule fit follows, one epoch per call: call j is epoch j of max_iter
        eta, epoch, rates = self.eta, len(self.history_), None
        if self.schedule == "cosine":
            eta = cosine_eta(self.eta, epoch, settings["max_iter"])
        elif self.schedule == "one-cycle":
            n_batches = -(-len(X) // int(self.mini_batch_size))
            rates = one_cycle_epoch(float(self.eta), epoch, settings["max_iter"], n_batches)
        train = (X, yi, weights)
        return self._train(train, None, dict(settings, early_stopping=False), 1, float(eta), "constant", rates)

    def _train(self, train, validation, settings, epochs, eta, schedule, rates=None):
        """``training.fit`` for ``epochs`` on the network as it stands, continuing ``optimizer_``;
        then the history and the attributes scikit-learn users read.  ``rates`` (n_batches,):
        one epoch's rate per mini-batch in place of eta (``partial_fit``'s one-cycle).  Returns self."""
        X, yi, weights = train
        m = int(self.mini_batch_size)
        momentum = self._momentum()
        fresh = make_optimizer(momentum, name=self.optimizer)
        old = getattr(self, "optimizer_", None)
        if old is None or old.name != fresh.name or old.momentum != fresh.momentum:
            self.optimizer_ = fresh  # new, or the optimizer or its momentum changed by set_params
        patience = settings["n_iter_no_change"]
        options = dict(
            epochs=epochs,
            mini_batch_size=m,
            eta=eta,
            l2=self._l2(len(X)),
            momentum=momentum,
            optimizer=self.optimizer,
            schedule=schedule,
            patience=patience,
            monitor_training=None,
            early_stop=patience if settings["early_stopping"] else None,
        )
        config = config_from_options(options, len(X))
        engine = None
        if weights is not None:
            engine = _WeightedEpochs(weights, resolve_engine("auto", self.network_, m, self.optimizer_))
        if rates is not None:
            engine = _RatesOfAnEpoch(rates, resolve_engine(engine, self.network_, m, self.optimizer_))
        offset = len(self.history_)
        callbacks = [self._reporter(offset)] if self.verbose else []
        stop = threading.Event()
        with _ctrl_c_stops(stop):
            result = _fit(
                self.network_,
                (X, yi),
                config,
                validation=validation,
                optimizer=self.optimizer_,
                engine=engine,
                callbacks=callbacks,
                stop=stop,
            )
        if rates is not None:  # the rates taken, as fit's one-cycle records them
            for record in result.history:
                record.update(eta=float(rates[0]), eta_last=float(rates[-1]))
        self._record(result, offset)
        if result.stopped == "interrupted":
            warnings.warn("Training interrupted by user: the network is kept as it stands.", UserWarning, stacklevel=3)
        elif self.verbose and result.stopped == "early-stop":
            print(f"Validation score did not improve for {patience} consecutive epochs. Stopping.", flush=True)
        return self

    def _record(self, result, offset):
        """Append ``result``'s epochs (numbered on from ``offset``) to ``history_`` and set the
        attributes read from it."""
        for record in result.history:
            record["epoch"] += offset
        self.history_ = self.history_ + result.history
        self.n_iter_ = len(self.history_)
        self.loss_curve_ = [float(h["training_cost"]) for h in self.history_]
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else None
        scores = [float(h["validation_accuracy"]) for h in self.history_ if "validation_accuracy" in h]
        self.validation_scores_ = scores or None
        self.best_validation_score_ = max(scores) if scores else None
        self.best_epoch_ = None if result.best_epoch is None else result.best_epoch + offset
        self.stopped_ = result.stopped

    @staticmethod
    def _reporter(offset):
        """A ``training.fit`` callback printing MLPClassifier's lines for each epoch."""

        def report(network, record):
            print(f"Iteration {offset + record['epoch'] + 1}, loss = {record['training_cost']:.8f}", flush=True)
            if "validation_accuracy" in record:
                print(f"Validation score: {record['validation_accuracy']:f}", flush=True)

        return report

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
    def _settings(self):
        """``max_iter``, ``early_stopping`` and ``n_iter_no_change``, checked, with the deprecated
        ``epochs`` and ``early_stop`` mapped onto them (each with a FutureWarning); ValueError
        for an ``optimizer`` or ``schedule`` that ``glassnet train`` does not offer."""
        max_iter, early_stopping, patience = self.max_iter, self.early_stopping, self.n_iter_no_change
        names = {"max_iter": "max_iter", "n_iter_no_change": "n_iter_no_change"}
        if _given(self.epochs):
            warnings.warn(
                f"epochs is deprecated and will be removed: use max_iter={self.epochs!r} (MLPClassifier's name)",
                FutureWarning,
                stacklevel=3,
            )
            max_iter, names["max_iter"] = self.epochs, "epochs"
        if _given(self.early_stop):
            warnings.warn(
                "early_stop is deprecated and will be removed: early_stop=k is early_stopping=True, "
                "n_iter_no_change=k (MLPClassifier's names)",
                FutureWarning,
                stacklevel=3,
            )
            if self.early_stop is not None:
                early_stopping, patience, names["n_iter_no_change"] = True, self.early_stop, "early_stop"
        for key, value in (
            ("max_iter", max_iter),
            ("n_iter_no_change", patience),
            ("mini_batch_size", self.mini_batch_size),
        ):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{names.get(key, key)} must be an integer >= 1, got {value!r}")
        if not isinstance(early_stopping, (bool, np.bool_)):
            raise ValueError(f"early_stopping must be True or False, got {early_stopping!r}")
        for key, value, choices in (("optimizer", self.optimizer, OPTIMIZERS), ("schedule", self.schedule, SCHEDULES)):
            if not (isinstance(value, str) and value in choices):
                raise ValueError(f"{key} must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return dict(max_iter=int(max_iter), early_stopping=bool(early_stopping), n_iter_no_change=int(patience))

    def _weights(self, y, sample_weight, incremental):
        """Each example's weight (n,): ``sample_weight`` times ``class_weight``'s; None when
        they are all equal (the unweighted fit, exactly)."""
        w = np.ones(len(y))
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64)
            sw = np.full(len(y), float(sw)) if sw.ndim == 0 else sw
            if sw.shape != (len(y),):
                raise ValueError(f"sample_weight must have shape ({len(y)},), got {sw.shape}")
            if not np.all(np.isfinite(sw)) or np.any(sw < 0):
                raise ValueError("sample_weight must hold finite numbers >= 0")
            w = w * sw
        if self.class_weight is not None:
            if incremental and isinstance(self.class_weight, str) and self.class_weight == "balanced":
                raise ValueError(
                    "class_weight='balanced' is not supported by partial_fit (one chunk does not tell "
                    "the classes' shares): pass a dict, e.g. from sklearn.utils.class_weight."
                    "compute_class_weight('balanced', classes=classes, y=all_labels)"
                )
            w = w * compute_sample_weight(self.class_weight, y)
        if not np.any(w > 0):
            raise ValueError("the sample weights are all zero: at least one example needs a weight above zero")
        return None if np.all(w == w[0]) else w

    def _held_out(self, X, yi, weights, rng, settings):
        """``((X, yi, weights) to train on, (X, yi) held out or None)``: with early stopping or
        schedule="halve", ``validation_fraction`` of the examples, drawn from ``rng``,
        stratified by class when every class has two examples or more."""
        if not (settings["early_stopping"] or self.schedule == "halve"):
            return (X, yi, weights), None
        frac, n = self.validation_fraction, len(X)
        if not (isinstance(frac, numbers.Real) and 0 < frac < 1):
            raise ValueError(f"validation_fraction must lie in (0, 1), got {frac!r}")
        n_val = max(1, int(round(frac * n)))
        if n - n_val < 1:
            raise ValueError(
                f"early stopping holds out validation_fraction={frac} of the data and needs at least 2 samples, got {n}"
            )
        counts = np.bincount(yi)
        k = int(np.count_nonzero(counts))
        stratify = yi if counts[counts > 0].min() >= 2 and min(n_val, n - n_val) >= k else None
        train, held = train_test_split(
            np.arange(n), test_size=n_val, stratify=stratify, random_state=int(rng.integers(2**31 - 1))
        )
        w = None if weights is None else weights[train]
        if w is not None and not np.any(w > 0):
            raise ValueError(
                "the sample weights left for training after holding out validation_fraction are all "
                "zero: at least one needs a weight above zero"
            )
        if w is not None and np.all(w == w[0]):
            w = None
        return (X[train], yi[train], w), (X[held], yi[held])

    def _momentum(self):
        """The momentum training uses: ``momentum`` with SGD, 0 with Adam (which keeps its own)."""
        return 0.0 if self.optimizer == "adam" else self.momentum

    def _l2(self, n):
        """The L2 strength to give ``training.fit`` so that ``l2`` means one thing for both kinds
        of network (see the class docstring): as it is for a network whose weights decay
        outside the gradient (the book's ``Network``), l2 (1 - momentum) l2_count / n for one
        whose L2 term is in its gradient (network3's layers, l2_count its mini-batches;
        momentum 0 with Adam)."""
        l2 = self.l2
        if not isinstance(l2, numbers.Real) or isinstance(l2, bool) or not (l2 >= 0 and math.isfinite(l2)):
            raise ValueError(f"l2 must be a number >= 0, got {l2!r}")
        if l2 == 0 or self.network_.l2_rule == "decay":
            return float(l2)
        n_steps = self.network_.l2_count(n, int(self.mini_batch_size))
        return float(l2) * (1.0 - float(self._momentum())) * n_steps / n

    def _dtype(self):
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            raise ValueError(f"dtype must be a floating type, got {self.dtype!r}") from None
        if dtype.kind != "f":
            raise ValueError(f"dtype must be a floating type, got {self.dtype!r}")
        return dtype

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
            options = dict(
                sizes=[n_in, *self._hidden(), n_classes], cost=self.cost, activation=self.activation, init=self.init
            )
        net = network_from_options(options, shape, n_classes, rng, dtype=dtype)
        # the Generator itself drives the network; record an int seed only (saved headers are JSON)
        net.seed = int(self.random_state) if isinstance(self.random_state, numbers.Integral) else None
        return net

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags

    # -- files: glassnet.save / glassnet.load (the estimator as its network plus header data) ---
    def _to_file(self):
        """``(model, metadata)`` for ``glassnet.save``: the fitted network, and under "face" the
        estimator's parameters, its classes and the fitted attributes JSON can hold (not
        ``optimizer_``'s state, momentum's velocities or Adam's moments and step count:
        ``partial_fit`` after ``load`` starts them afresh; nor a ``random_state`` Generator,
        which is loaded as None)."""
        check_is_fitted(self, "network_")
        params = {k: _json_value(v) for k, v in self.get_params(deep=False).items()}
        fitted = {
            k: _json_value(v)
            for k, v in vars(self).items()
            if k.endswith("_") and not k.startswith("_") and k not in ("network_", "optimizer_")
        }
        return self.network_, {
            "face": {
                "class": "glassnet.sklearn.GlassnetClassifier",
                "classes": self.classes_.tolist(),
                "params": {k: v for k, v in params.items() if v is not _UNSTORED},
                "fitted": {k: v for k, v in fitted.items() if v is not _UNSTORED},
            }
        }

    @classmethod
    def _from_file(cls, model, header):
        """The fitted estimator a file's ``model`` and header stand for (``glassnet.load``)."""
        face = header["face"]
        estimator = cls()
        known = estimator.get_params(deep=False)
        estimator.set_params(**{k: _from_json(v) for k, v in dict(face.get("params", {})).items() if k in known})
        for name, value in dict(face.get("fitted", {})).items():
            if name.isidentifier() and name.endswith("_") and not name.startswith("_") and name != "optimizer_":
                setattr(estimator, name, _from_json(value))
        estimator.network_ = model
        classes = getattr(estimator, "classes_", None)
        if classes is None or np.ndim(classes) != 1 or len(classes) != model.n_out:
            raise ValueError(f"the estimator's classes do not match its network's {model.n_out} outputs")
        if getattr(estimator, "n_features_in_", model.n_in) != model.n_in:
            raise ValueError(f"n_features_in_ is not the network's {model.n_in} inputs")
        return estimator


_UNSTORED = object()  # a value JSON cannot hold (a Generator, an optimizer): not saved


def _json_value(value):
    """``value`` as JSON data that ``_from_json`` turns back into it (tuples, dicts with any keys,
    NumPy arrays, scalars and dtypes, non-finite floats tagged); ``_UNSTORED`` otherwise."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (list, tuple)):
        items = [_json_value(v) for v in value]
        return (
            _UNSTORED
            if any(v is _UNSTORED for v in items)
            else (items if isinstance(value, list) else {"tuple": items})
        )
    if isinstance(value, dict):
        items = [[_json_value(k), _json_value(v)] for k, v in value.items()]
        return _UNSTORED if any(v is _UNSTORED for pair in items for v in pair) else {"dict": items}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufUO":
        items = _json_value(value.tolist())
        return _UNSTORED if items is _UNSTORED else {"array": [items, value.dtype.str]}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {"dtype": np.dtype(value).name}
    return _UNSTORED


def _from_json(value):
    """The value ``_json_value`` stored; ValueError (or TypeError) for data it never writes."""
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise ValueError(f"unreadable value {value!r:.60}")
    ((tag, data),) = value.items()
    if tag == "float" and data in ("inf", "-inf", "nan"):
        return float(data)
    if tag == "tuple":
        return tuple(_from_json(v) for v in data)
    if tag == "dict":
        return {_from_json(k): _from_json(v) for k, v in data}
    if tag == "dtype":
        return np.dtype(data).name
    if tag == "array" and np.dtype(data[1]).kind in "biufUO" and np.dtype(data[1]).itemsize <= 1024:
        return np.array(_from_json(data[0]), dtype=np.dtype(data[1]))
    raise ValueError(f"unreadable value {value!r:.60}")
