"""The full training loop: everything around the book's epoch that practice adds.

``fit`` is the one epoch loop that every trainer uses (the CLI, the estimator, sweeps,
reproductions).  Each epoch shuffles with the network's Generator and hands the
mini-batches to an engine (``glassnet.engines``, chosen once per run) whose steps an
optimizer (``optimizers``: plain SGD with L2, momentum, Adam) defines.  Around it, each optional:
validation monitoring, L2 weight decay and momentum (chapter 3), a learning-rate
schedule (halve eta when validation accuracy stops improving, cosine decay, or a
one-cycle rate changed every mini-batch),
early stopping that keeps the best weights, data augmentation redrawn every epoch,
atomic checkpoints with resume, clean stops on SIGINT/SIGTERM, and a clear error
when training diverges.  The library never prints: progress reaches the caller
through ``callbacks`` and ``on_batch``.
"""

from __future__ import annotations

import functools
import math
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import engines
from ..core.dataforms import as_arrays
from ..core.model import Trainable, resolve_engine, state_arrays
from ..errors import CheckpointError, InputError, TrainingDiverged, plural
from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from .optimizers import OPTIMIZERS, make_optimizer
from .schedules import SCHEDULES, cosine_eta, one_cycle_epoch

__all__ = [
    "TrainingConfig",
    "fit",
    "TrainingDiverged",
    "FitResult",
    "save_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "CheckpointError",
    "epoch_record",
]


@dataclass
class TrainingConfig:
    """What ``fit`` does, beyond the network itself.

    epochs, mini_batch_size, eta : the book's hyper-parameters.
    l2 : L2 regularisation strength, the book's lambda (eq. 87): weight decay 1 - eta l2 / n
        (n as the network's ``l2_count`` says).  ``lmbda=`` is a deprecated alias.
    momentum : mu of momentum-based gradient descent (0 = plain SGD).
    optimizer : "sgd" (the book's SGD, with ``momentum`` when it is > 0) or "adam"
        (``optimizers.Adam``: eta is then Adam's step size, typically 1e-3; momentum must be 0).
    schedule : "constant"; "halve" -- halve eta after ``patience`` epochs without a new
        best validation accuracy, stop after ``max_halvings`` halvings (chapter 3's
        schedule stops when eta has fallen to 1/128, i.e. 7 halvings); "cosine" --
        eta_t = eta (1 + cos(pi t / epochs)) / 2; "one-cycle" -- eta changes every
        mini-batch (``schedules.one_cycle_eta``): up from eta/25 to eta over the first 25% of
        the run's steps, then down (cosine) to eta/1e4 at its last step.
    early_stop : stop after this many epochs without a new best validation accuracy.
    keep_best : end with the weights of the best validation epoch (with validation data).
    monitor_training : measure the training cost and accuracy after each epoch on the first
        this many training examples (0, the default: not measured, as the book's SGD does
        not; None: all of them -- a forward pass over 50,000 images costs a third of an
        epoch of the book's network).
    shuffle : a new order of the training data every epoch from the network's Generator
        (False: the data's own order, as the book's network3 takes its once-shuffled data).
    """

    epochs: int = 30
    mini_batch_size: int = 10
    eta: float = 3.0
    l2: float = 0.0
    momentum: float = 0.0
    schedule: str = "constant"
    patience: int = 5
    max_halvings: int = 7
    early_stop: int | None = None
    keep_best: bool = True
    monitor_training: int | None = 0
    shuffle: bool = True
    optimizer: str = "sgd"

    def __post_init__(self):
        if int(self.epochs) < 1 or int(self.mini_batch_size) < 1:
            raise InputError(f"epochs and mini_batch_size must be >= 1, got {self.epochs} and {self.mini_batch_size}")
        if not (self.eta >= 0 and math.isfinite(self.eta)):
            raise InputError(f"eta must be a finite number >= 0, got {self.eta}")
        if self.l2 < 0 or not 0 <= self.momentum < 1:
            raise InputError(f"need l2 >= 0 and 0 <= momentum < 1, got {self.l2} and {self.momentum}")
        if self.schedule not in SCHEDULES:
            raise InputError(f"unknown schedule {self.schedule!r}; choose {', '.join(SCHEDULES)}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}; choose {' or '.join(OPTIMIZERS)}")
        if self.optimizer == "adam" and self.momentum:
            raise InputError(f"momentum {self.momentum:g} is SGD's: Adam keeps its own (beta1); give momentum 0")
        if self.early_stop is not None and self.early_stop < 1:
            raise InputError(f"early_stop must be >= 1 epochs, got {self.early_stop}")


def _deprecated_lmbda(self):
    """The former name of ``l2`` (deprecated: one name per idea in glassnet's own API)."""
    warnings.warn("TrainingConfig.lmbda is deprecated: use l2", DeprecationWarning, stacklevel=2)
    return self.l2


_generated_init = TrainingConfig.__init__


@functools.wraps(_generated_init)
def _init_accepting_lmbda(self, *args, lmbda=None, **kwargs):
    if lmbda is not None:
        warnings.warn("TrainingConfig(lmbda=...) is deprecated: use l2=...", DeprecationWarning, stacklevel=2)
        if "l2" in kwargs:
            raise InputError("give l2 or its deprecated alias lmbda, not both")
        kwargs["l2"] = lmbda
    _generated_init(self, *args, **kwargs)


TrainingConfig.__init__ = _init_accepting_lmbda  # type: ignore[method-assign]
TrainingConfig.lmbda = property(_deprecated_lmbda)  # type: ignore[attr-defined]


@dataclass
class FitResult:
    """What ``fit`` returns: the history (a record per epoch), why it stopped, the best
    validation epoch, the loop's final state and the engine that took the steps."""

    history: list
    stopped: str = "completed"  # completed | early-stop | schedule | interrupted | callback
    best_epoch: int | None = None
    state: dict = field(default_factory=dict)
    engine: str = "numpy"  # the engine that took the steps: "numpy", "kernel" or "layer-kernel"

    def __repr__(self):  # short at a prompt: the history is an attribute away
        last = self.history[-1] if self.history else {}
        shown = f", last accuracy {last['accuracy']:.4f}" if isinstance(last.get("accuracy"), float) else ""
        return (
            f"FitResult({plural(len(self.history), 'epoch')}, stopped {self.stopped!r}, best epoch {self.best_epoch}"
            f"{shown}, engine {self.engine!r})"
        )


class _Interrupted(Exception):
    pass


def fit(
    network: Trainable,
    training,
    config: TrainingConfig,
    *,
    validation=None,
    test=None,
    augment=None,
    callbacks=(),
    on_batch=None,
    checkpoint=None,
    resume=False,
    handle_signals=False,
    metadata=None,
    engine=None,
    stop=None,
    optimizer=None,
) -> FitResult:
    """Train ``network`` on ``training`` as ``config`` says; returns a FitResult.

    network : any ``core.model.Trainable`` (Network, LayerNetwork), trained in place.

    training, validation, test : data sets with ``.X`` (n, n_in) and ``.y`` (n,), or
        ``(X, y)`` pairs.
    augment : optional ``augment(X, rng) -> X'`` drawing a fresh distorted copy of the
        training inputs every epoch from the network's Generator.
    callbacks : ``cb(network, record)`` after every epoch; returning True stops.
    on_batch : ``on_batch(done, total)`` within the epoch (progress bars).
    checkpoint : a path; an atomic checkpoint (weights, optimizer state, Generator state,
        schedule state, history) is written after every epoch.  ``resume=True``
        continues from it and ends bit-identical to an uninterrupted run.
    handle_signals : stop cleanly on SIGINT/SIGTERM (main thread only): the epoch in
        progress is abandoned and the run can resume from the last checkpoint.
    engine : "auto" (None: the fastest registered engine, ``core.model.resolve_engine``),
        "numpy" (the core's own steps) or an engine object; chosen once for the run.
    stop : a ``threading.Event`` another thread may set to stop cleanly, as SIGINT does
        (a live page's stop button); the result says "interrupted".
    optimizer : an earlier run's optimizer (the same kind, same momentum) to continue: its
        velocities (Adam's moments and step count) carry on, so several calls of one epoch
        each equal one call of several epochs (a one-cycle schedule starts again each call).
    """
    run = _Run(network, config, training, validation, test, augment, optimizer)
    engine = resolve_engine(engine, network, config.mini_batch_size, run.optimizer)
    # the inputs' nonzeros for the compiled kernel, once (a distorted copy each epoch is new data)
    started = time.perf_counter()
    engine = engine.prepare(run.X) if augment is None else engine
    run.prepare_seconds = time.perf_counter() - started  # counted in the first epoch's seconds
    metadata = dict(metadata or {}, engine=engine.name)
    state, best = _start(network, config, run.optimizer, checkpoint, resume, metadata)
    stop = stop if stop is not None else threading.Event()
    restore = _install_signal_handlers(stop) if handle_signals else None
    try:
        stopped, best = _epochs(run, engine, state, best, stop, on_batch, callbacks, checkpoint, metadata)
    finally:
        if restore is not None:
            restore()
    if best is not None and config.keep_best and stopped != "interrupted":
        for a, saved in zip(state_arrays(network), best):
            a[...] = saved
    return FitResult(state["history"], stopped, state["best_epoch"], state, engine.name)


def _epochs(run, engine, state, best, stop, on_batch, callbacks, checkpoint, metadata):
    """The epochs of ``fit`` until the run is over: ``(why it stopped, the best parameters)``.
    After each epoch: the schedule and early stopping, the best parameters, the checkpoint,
    the callbacks and the stop Event."""
    network, config, stopped = run.network, run.config, "completed"
    while state["epoch"] < config.epochs and stopped == "completed":
        record = run.epoch(engine, state, stop, on_batch)
        if record is None:
            return "interrupted", best
        state["history"].append(record)
        state["epoch"] = record["epoch"] + 1
        stopped = _after_epoch(config, state, record, run.val is not None)
        if run.val is not None and state["best_epoch"] == record["epoch"] and config.keep_best:
            best = [a.copy() for a in state_arrays(network)]  # parameters and running statistics
        if checkpoint is not None:
            save_checkpoint(checkpoint, network, config, state, run.optimizer, best, metadata)
        if any([cb(network, record) for cb in callbacks]):
            stopped = "callback"
        if stop.is_set():
            stopped = "interrupted"
    return stopped, best


def check_batches(network, n, mini_batch_size):
    """InputError unless every mini-batch of ``n`` examples is one ``network`` trains on: a
    network may need mini-batches of at least ``network.min_batch`` (batch normalisation of
    rows needs 2), the last one (n mod mini_batch_size) included."""
    need, last = getattr(network, "min_batch", 1), n % mini_batch_size
    if need > 1 and (mini_batch_size < need or 0 < last < need):
        what = (
            f"mini-batches of {mini_batch_size}"
            if mini_batch_size < need
            else f"{n:,} examples in mini-batches of {mini_batch_size} leave one of {last}"
        )
        raise InputError(
            f"batch normalisation of rows needs mini-batches of at least {need}: {what}; choose another mini-batch size"
        )


class _Run:
    """One training run's data (as arrays), optimizer and evaluation passes."""

    def __init__(self, network, config, training, validation, test, augment, optimizer=None):
        self.network, self.config, self.augment = network, config, augment
        self.X, self.Y = _arrays(network, training, network.targets)
        check_batches(network, len(self.X), config.mini_batch_size)
        self.labels = self.Y if self.Y.ndim == 1 else np.argmax(self.Y, axis=1)
        self.val = _arrays(network, validation, "labels")
        self.tst = _arrays(network, test, "labels")
        n = network.l2_count(len(self.X), config.mini_batch_size)
        if config.l2 and config.eta * config.l2 / n >= 1:
            raise InputError(
                f"L2 decay 1 - eta*l2/n = 1 - {config.eta:g}*{config.l2:g}/{n} would zero or flip "
                f"the weights every step (n = {n} sample{'s' if n != 1 else ''}): give more training "
                f"examples or a smaller lambda or eta"
            )
        self.optimizer = make_optimizer(config.momentum, config.l2, n, config.optimizer)
        if optimizer is not None:
            if optimizer.momentum != self.optimizer.momentum:
                raise InputError(
                    f"the optimizer to continue has momentum {optimizer.momentum:g}, the run {config.momentum:g}"
                )
            if getattr(optimizer, "name", None) != self.optimizer.name:
                raise InputError(
                    f"the optimizer to continue is {getattr(optimizer, 'name', type(optimizer).__name__)}, "
                    f"the run's {self.optimizer.name}"
                )
            optimizer.l2, optimizer.n = self.optimizer.l2, self.optimizer.n  # this run's L2 scale
            self.optimizer = optimizer
        self.prepare_seconds = 0.0
        k = len(self.X) if config.monitor_training is None else min(config.monitor_training, len(self.X))
        self.monitored = (self.X[:k], self.labels[:k]) if k else None

    def epoch(self, engine, state, stop, on_batch):
        """Train one epoch and measure it; None when a stop was requested within it."""
        network, config, j = self.network, self.config, state["epoch"]
        started = time.perf_counter()
        X = self.augment(self.X, network.rng) if self.augment is not None else self.X
        eta = self.etas(j, state["eta"], len(X))

        def batch_hook(done, total):
            if stop.is_set():
                raise _Interrupted
            if on_batch is not None:
                on_batch(done, total)

        # overflow in a diverging run is reported once, by _check_finite, not as warnings
        with np.errstate(over="ignore", invalid="ignore"):
            try:
                order = network.rng.permutation(len(X)) if config.shuffle else np.arange(len(X))
                engine.epoch(network, X, self.Y, order, config.mini_batch_size, eta, self.optimizer, batch_hook)
            except _Interrupted:
                return None
            seconds = time.perf_counter() - started + self.prepare_seconds
            self.prepare_seconds = 0.0
            record = epoch_record(network, j, seconds, self.monitored, self.val, self.tst)
        if np.ndim(eta):  # a rate per mini-batch: the epoch's first and last
            record.update(eta=float(eta[0]), eta_last=float(eta[-1]))
        else:
            record.update(eta=eta)
        record.update(engine=engine.name)
        _check_finite(network, record, float(np.max(eta)))
        return record

    def etas(self, epoch, eta, n_samples):
        """The learning rate of this epoch: a number (constant, halved or cosine), or with
        "one-cycle" an array (n_batches,) of one rate per mini-batch, the run's steps counted
        from its first epoch (epoch j's first step is j n_batches)."""
        config = self.config
        if config.schedule == "cosine":
            return cosine_eta(config.eta, epoch, config.epochs)
        if config.schedule == "one-cycle":
            n_batches = -(-n_samples // config.mini_batch_size)
            return np.array(one_cycle_epoch(config.eta, epoch, config.epochs, n_batches))
        return eta


def _arrays(network, data, targets):
    """``(X (n, n_in), T)`` of a data set (``.X``/``.y`` or a pair) for this network: T one-hot
    (n, n_out) or integer labels (n,) as ``targets`` says; None for no data."""
    if data is None:
        return None
    data = (data.X, data.y) if hasattr(data, "X") else data
    try:
        X, y = data
    except (TypeError, ValueError):
        raise InputError(f"a data set is a pair (X, y) or has .X and .y, got {type(data).__name__}") from None
    return as_arrays((np.asarray(X), np.asarray(y)), network.n_in, network.n_out, network.dtype, targets=targets)


def epoch_record(network, epoch, seconds, training=None, validation=None, test=None):
    """The history entry of one epoch: cost and accuracy on each given data set.

    Each data set is ``(X, labels)``.  Keys: epoch, seconds; training_cost and
    training_accuracy, validation_cost and validation_accuracy (when given); test_cost,
    correct, total, accuracy (with test data: the book's reported figure).  The forward
    pass for each set is chosen once per set (``engines.forward_for``).
    """
    record = {"epoch": epoch, "seconds": seconds}
    for name, data in (("training", training), ("validation", validation), ("test", test)):
        if data is None:
            continue
        X, labels = data
        cost, correct = network.measure(X, labels, forward=engines.forward_for(network, X)[1])
        if name == "test":
            record.update(test_cost=cost, correct=correct, total=len(labels), accuracy=correct / len(labels))
        else:
            record[f"{name}_cost"], record[f"{name}_accuracy"] = cost, correct / len(labels)
    return record


def _start(network, config, optimizer, checkpoint, resume, metadata):
    """The loop's state and best weights: fresh (and written to ``checkpoint``), or resumed."""
    if resume:
        return load_checkpoint(checkpoint, network, config, optimizer)
    state = dict(
        epoch=0, eta=float(config.eta), halvings=0, best_accuracy=-1.0, best_epoch=None, since_best=0, history=[]
    )
    if checkpoint is not None:
        save_checkpoint(checkpoint, network, config, state, optimizer, None, metadata)
    return state, None


def _after_epoch(config, state, record, have_validation):
    """Update the schedule / early-stopping state after an epoch; return why to stop, if so."""
    if not have_validation:
        return "completed"
    if record["validation_accuracy"] > state["best_accuracy"]:
        state.update(best_accuracy=record["validation_accuracy"], best_epoch=record["epoch"], since_best=0)
    else:
        state["since_best"] += 1
    if config.early_stop is not None and state["since_best"] >= config.early_stop:
        return "early-stop"
    if config.schedule == "halve" and state["since_best"] >= config.patience:
        if state["halvings"] >= config.max_halvings:
            return "schedule"
        state["eta"] /= 2
        state["halvings"] += 1
        state["since_best"] = 0
    return "completed"


def _check_finite(network, record, eta):
    costs = [v for k, v in record.items() if k.endswith("_cost")]
    if not all(math.isfinite(c) for c in costs) or not all(np.all(np.isfinite(p)) for p in network.parameters()):
        shown = f" (the cost is {costs[0]})" if costs else ""
        raise TrainingDiverged(f"training diverged at epoch {record['epoch']}{shown}: try a smaller eta than {eta:g}")


def _install_signal_handlers(stop):
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = {}

    def handler(signum, frame):
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)

    def restore():
        for sig, h in previous.items():
            signal.signal(sig, h)

    return restore
