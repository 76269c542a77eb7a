"""The full training loop: everything around the book's epoch that practice adds.

``fit`` runs ``Network.train_epoch`` epoch after epoch and adds, each optional:
validation monitoring, L2 weight decay and momentum (chapter 3), a learning-rate
schedule (halve eta when validation accuracy stops improving, or cosine decay),
early stopping that keeps the best weights, data augmentation redrawn every epoch,
atomic checkpoints with resume, clean stops on SIGINT/SIGTERM, and a clear error
when training diverges.  The library never prints: progress reaches the caller
through ``callbacks`` and ``on_batch``.
"""
from __future__ import annotations

import math
import signal
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field

import numpy as np

from .network import Network, as_arrays

__all__ = ["TrainingConfig", "fit", "TrainingDiverged", "FitResult", "save_checkpoint",
           "load_checkpoint", "CheckpointError"]


class TrainingDiverged(ValueError):
    """The cost or the weights stopped being finite numbers."""


class CheckpointError(ValueError):
    """A checkpoint that does not match the run it is asked to resume."""


@dataclass
class TrainingConfig:
    """What ``fit`` does, beyond the network itself.

    epochs, mini_batch_size, eta : the book's hyper-parameters.
    lmbda : L2 regularisation strength (book eq. 87), weight decay 1 - eta lmbda / n.
    momentum : mu of momentum-based gradient descent (0 = plain SGD).
    schedule : "constant"; "halve" -- halve eta after ``patience`` epochs without a new
        best validation accuracy, stop after ``max_halvings`` halvings (chapter 3's
        schedule stops when eta has fallen to 1/128, i.e. 7 halvings); "cosine" --
        eta_t = eta (1 + cos(pi t / epochs)) / 2.
    early_stop : stop after this many epochs without a new best validation accuracy.
    keep_best : end with the weights of the best validation epoch (with validation data).
    monitor_training : measure the training cost and accuracy after each epoch on the first
        this many training examples (None: all; a forward pass over 50,000 images costs as
        much as a few hundred SGD steps of a large network).
    """
    epochs: int = 30
    mini_batch_size: int = 10
    eta: float = 3.0
    lmbda: float = 0.0
    momentum: float = 0.0
    schedule: str = "constant"
    patience: int = 5
    max_halvings: int = 7
    early_stop: int | None = None
    keep_best: bool = True
    monitor_training: int | None = None

    def __post_init__(self):
        if int(self.epochs) < 1 or int(self.mini_batch_size) < 1:
            raise ValueError(f"epochs and mini_batch_size must be >= 1, got {self.epochs} and "
                             f"{self.mini_batch_size}")
        if not (self.eta > 0 and math.isfinite(self.eta)):
            raise ValueError(f"eta must be a positive number, got {self.eta}")
        if self.lmbda < 0 or not 0 <= self.momentum < 1:
            raise ValueError(f"need lmbda >= 0 and 0 <= momentum < 1, got {self.lmbda} and {self.momentum}")
        if self.schedule not in ("constant", "halve", "cosine"):
            raise ValueError(f"unknown schedule {self.schedule!r}; choose constant, halve or cosine")
        if self.early_stop is not None and self.early_stop < 1:
            raise ValueError(f"early_stop must be >= 1 epochs, got {self.early_stop}")


@dataclass
class FitResult:
    history: list
    stopped: str = "completed"           # completed | early-stop | schedule | interrupted | callback
    best_epoch: int | None = None
    state: dict = field(default_factory=dict)


class _Interrupted(Exception):
    pass


def _prepare(network, data, targets):
    if data is None:
        return None
    X, T = as_arrays((data.X, data.y) if hasattr(data, "X") else data,
                     network.sizes[0], network.sizes[-1], network.dtype, targets=targets)
    return X, T


def fit(network: Network, training, config: TrainingConfig, *, validation=None, test=None,
        augment=None, callbacks=(), on_batch=None, checkpoint=None, resume=False,
        handle_signals=False, metadata=None) -> FitResult:
    """Train ``network`` on ``training`` as ``config`` says; returns a FitResult.

    training, validation, test : data sets with ``.X`` (n, n_in) and ``.y`` (n,), or
        ``(X, y)`` pairs.
    augment : optional ``augment(X, rng) -> X'`` drawing a fresh distorted copy of the
        training inputs every epoch from the network's Generator.
    callbacks : ``cb(network, record)`` after every epoch; returning True stops.
    checkpoint : a path; an atomic checkpoint (weights, velocities, Generator state,
        schedule state, history) is written after every epoch.  ``resume=True``
        continues from it and ends bit-identical to an uninterrupted run.
    handle_signals : stop cleanly on SIGINT/SIGTERM (main thread only): the epoch in
        progress is abandoned and the run can resume from the last checkpoint.
    """
    X, Y = _prepare(network, training, "onehot")
    labels = np.argmax(Y, axis=1)
    val = _prepare(network, validation, "labels")
    tst = _prepare(network, test, "labels")
    val = val + (None,) if val is not None else None
    tst = tst + (None,) if tst is not None else None

    state = dict(epoch=0, eta=float(config.eta), halvings=0, best_accuracy=-1.0, best_epoch=None,
                 since_best=0, history=[])
    best = None
    if resume:
        state, best = load_checkpoint(checkpoint, network, config)
    elif checkpoint is not None:
        save_checkpoint(checkpoint, network, config, state, best, metadata)

    stop = threading.Event()
    restore = _install_signal_handlers(stop) if handle_signals else None

    def batch_hook(done, total):
        if stop.is_set():
            raise _Interrupted
        if on_batch is not None:
            on_batch(done, total)

    # the inputs' nonzeros for the compiled kernel, once (a distorted copy each epoch is new data)
    started = time.perf_counter()
    rows = network.compiled_rows(X, config.momentum, config.mini_batch_size) if augment is None else None
    prepare = time.perf_counter() - started         # counted in the first epoch's seconds

    stopped = "completed"
    try:
        while state["epoch"] < config.epochs:
            j = state["epoch"]
            eta = state["eta"]
            if config.schedule == "cosine":
                eta = config.eta * 0.5 * (1 + math.cos(math.pi * j / config.epochs))
            started = time.perf_counter()
            Xe = augment(X, network.rng) if augment is not None else X
            augment_seconds = time.perf_counter() - started
            # overflow in a diverging run is reported once, by _check_finite, not as warnings
            with np.errstate(over="ignore", invalid="ignore"):
                try:
                    seconds = network.train_epoch(Xe, Y, config.mini_batch_size, eta, lmbda=config.lmbda,
                                                  momentum=config.momentum, on_batch=batch_hook, rows=rows)
                    seconds, prepare = seconds + prepare, 0.0
                except _Interrupted:
                    stopped = "interrupted"
                    break
                # an epoch's seconds: drawing its distorted copy (if any) and the SGD steps
                k = config.monitor_training or len(X)
                record = network.epoch_record(j, augment_seconds + seconds, (X[:k], labels[:k], Y[:k]),
                                              val, tst)
            record["eta"] = eta
            _check_finite(network, record, eta)
            state["history"].append(record)
            state["epoch"] = j + 1
            stopped = _after_epoch(config, state, record, val is not None)
            if val is not None and state["best_epoch"] == j and config.keep_best:
                best = [p.copy() for p in network.weights + network.biases]
            if checkpoint is not None:
                save_checkpoint(checkpoint, network, config, state, best, metadata)
            if any([cb(network, record) for cb in callbacks]):
                stopped = "callback"
            if stop.is_set():
                stopped = "interrupted"
            if stopped != "completed":
                break
    finally:
        if restore is not None:
            restore()
    if best is not None and config.keep_best and stopped != "interrupted":
        for p, saved in zip(network.weights + network.biases, best):
            p[...] = saved
    return FitResult(state["history"], stopped, state["best_epoch"], state)


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
    if not math.isfinite(record["training_cost"]) or not all(np.all(np.isfinite(w)) for w in network.weights):
        raise TrainingDiverged(f"training diverged at epoch {record['epoch']} (the cost is "
                               f"{record['training_cost']}): try a smaller eta than {eta:g}")


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


# -- checkpoints -------------------------------------------------------------------------------
CHECKPOINT_FORMAT = "glassnet-checkpoint"


def save_checkpoint(path, network, config, state, best=None, metadata=None):
    """Write everything a resumed run needs, atomically (.npz arrays + JSON header)."""
    import json

    from .io import atomic_write, _header
    header = _header(network, metadata)
    header.update(format=CHECKPOINT_FORMAT, config=asdict(config), state=state,
                  rng_state=network.rng.bit_generator.state)
    arrays = {"header": np.frombuffer(json.dumps(header, default=_plain).encode(), dtype=np.uint8)}
    for l, (w, b) in enumerate(zip(network.weights, network.biases)):
        arrays[f"w{l}"], arrays[f"b{l}"] = w, b
    for i, v in enumerate(getattr(network, "velocities", None) or []):
        arrays[f"v{i}"] = v
    for i, p in enumerate(best or []):
        arrays[f"best{i}"] = p
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def read_checkpoint(path):
    """The arrays and JSON header of a checkpoint; CheckpointError if it is not one."""
    import json
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        header = json.loads(arrays.pop("header").tobytes())
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path} to resume from") from None
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(header, dict) or header.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a glassnet checkpoint")
    return arrays, header


def load_checkpoint(path, network, config):
    """Restore ``network`` (weights, velocities, Generator) from ``path``; return (state, best)."""
    arrays, header = read_checkpoint(path)
    if header.get("sizes") != network.sizes:
        raise CheckpointError(f"{path}: checkpoint is for sizes {header.get('sizes')}, not {network.sizes}")
    saved = {k: v for k, v in header["config"].items() if k != "epochs"}
    wanted = {k: v for k, v in asdict(config).items() if k != "epochs"}
    if saved != wanted:
        diff = sorted(k for k in wanted if saved.get(k) != wanted[k])
        raise CheckpointError(f"{path}: checkpoint was made with different options ({', '.join(diff)})")
    for l in range(len(network.weights)):
        network.weights[l][...] = arrays[f"w{l}"]
        network.biases[l][...] = arrays[f"b{l}"]
    velocities = [arrays[f"v{i}"] for i in range(2 * len(network.weights)) if f"v{i}" in arrays]
    network.velocities = velocities or None
    best = [arrays[f"best{i}"] for i in range(2 * len(network.weights)) if f"best{i}" in arrays] or None
    network.rng.bit_generator.state = header["rng_state"]
    return header["state"], best
