"""Training an ensemble (chapter 6): the same network from several seeds, in parallel.

``train_ensemble(build, training, config, seeds=...)`` builds one member per seed with
``build(seed)``, trains each with ``fit`` (the one epoch loop) and returns the
``core.ensemble.Ensemble`` of the trained members beside each member's ``MemberResult``
(its history, best epoch, seconds).  The members train in parallel the way sweeps do
(``training.sweep``): local worker processes through joblib (loky), or the workers of a
Dask cluster with ``scheduler="tcp://host:8786"``; each member trains with one BLAS
thread (threadpoolctl, when installed), so parallel members do not fight for cores and
a member is the same whichever way it ran: its randomness -- initial weights, dropout
masks, shuffling, augmentation -- comes from its network's Generator, seeded by ``build``.

``build`` travels to the worker processes, so it must pickle: a top-level function or a
``functools.partial`` of one over plain data, e.g. ``layer_builder(spec)`` for
``LayerNetwork.from_spec(spec, seed=seed)``, or a run plan's ``build`` (``training.runs``:
``network_from_options`` over the run's options) -- not a lambda or a nested function
(loky and dask ship them with cloudpickle, which may cope, but a plain ``pickle`` would not).

Library code: it never prints; ``on_member`` reports each member as it finishes.
"""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass, field

from ..core.ensemble import Ensemble
from ..core.layernet import LayerNetwork
from ..errors import InputError
from .loop import TrainingConfig, fit
from .sweep import map_parallel

__all__ = ["train_ensemble", "train_member", "MemberResult", "layer_builder", "map_parallel"]


@dataclass
class MemberResult:
    """One trained member: its seed and what ``fit`` reported.

    history : fit's per-epoch records (validation_accuracy, accuracy = test accuracy, ...)
    best_epoch : the best validation epoch (fit's rule: the first of equal bests), or None
        without validation data;  stopped : why fit stopped;  engine : who took the steps;
    seconds : building and training, measured in the worker.
    """

    seed: int
    history: list = field(default_factory=list)
    best_epoch: int | None = None
    stopped: str = "completed"
    engine: str = "numpy"
    seconds: float = 0.0

    @property
    def best_validation_accuracy(self):
        """Validation accuracy (fraction) at ``best_epoch``; None without validation data."""
        return None if self.best_epoch is None else self.history[self.best_epoch]["validation_accuracy"]

    @property
    def test_accuracy(self):
        """Test accuracy (fraction) at ``best_epoch`` (the last epoch without validation data);
        None without test data."""
        if not self.history:
            return None
        record = self.history[self.best_epoch if self.best_epoch is not None else -1]
        return record.get("accuracy")


def _build_layer_network(spec, seed, dtype=None):
    return LayerNetwork.from_spec(spec, seed=seed, dtype=dtype)


def layer_builder(spec, dtype=None):
    """A picklable ``build(seed)`` making ``LayerNetwork.from_spec(spec, seed=seed, dtype=dtype)``;
    ``spec`` is ``LayerNetwork.spec()`` (plain JSON-able data)."""
    return functools.partial(_build_layer_network, spec, dtype=dtype)


def _blas_limit(threads):
    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def train_member(build, seed, X, y, config, validation=None, test=None, augment=None, blas_threads=1):
    """Build ``build(seed)`` and train it with ``fit`` on (X, y); returns (network, MemberResult).

    Runs in a worker (or in this process); ``blas_threads`` caps its BLAS threads while it trains.
    """
    start = time.perf_counter()
    with _blas_limit(blas_threads):
        network = build(seed)
        result = fit(network, (X, y), config, validation=validation, test=test, augment=augment)
    return network, MemberResult(
        seed, result.history, result.best_epoch, result.stopped, result.engine, time.perf_counter() - start
    )


def _member_of_arrays(build, seed, X, y, config, Xv, yv, Xt, yt, augment=None, blas_threads=1):
    """``train_member`` with the validation and test sets as separate arrays (None where
    absent): a cluster is sent each array once (joblib's dask backend scatters arrays, not
    tuples of them, which would travel inside every member's task)."""
    validation = None if Xv is None else (Xv, yv)
    test = None if Xt is None else (Xt, yt)
    return train_member(build, seed, X, y, config, validation, test, augment, blas_threads)


def _pair(data):
    if data is None:
        return None
    return (data.X, data.y) if hasattr(data, "X") else tuple(data)


def train_ensemble(
    build,
    training,
    config: TrainingConfig,
    *,
    seeds,
    validation=None,
    test=None,
    n_jobs=2,
    scheduler=None,
    augment=None,
    on_member=None,
    combine="mean",
):
    """Train one member per seed and return ``(Ensemble, [MemberResult, ...])`` in seed order.

    build : ``build(seed) -> Network or LayerNetwork``, picklable (see the module docstring;
        ``layer_builder(spec)`` for a layer network, ``RunPlan.build`` for a run's)
    training, validation, test : ``(X, y)`` pairs or data sets with ``.X``/``.y``;
        X (n, n_in) (images flat), y int labels (n,)
    config : the ``TrainingConfig`` every member trains with (``keep_best=True``, the
        default, leaves each member at its best validation epoch)
    seeds : one seed per member (at least one)
    n_jobs, scheduler : where the members train (``map_parallel``); members are identical
        whichever is used
    augment : optional ``augment(X, rng)`` (e.g. ``training.augment.Augmenter()``), drawn
        from each member's own Generator every epoch
    on_member : ``on_member(result, done, total, index)`` as each member finishes
    combine : the ensemble's rule, "mean" or "vote" (``core.ensemble``)
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise InputError("train_ensemble needs at least one seed, got none")
    X, y = _pair(training)
    # parallel members get one BLAS thread each; members trained here one after another get all
    alone = scheduler is None and min(n_jobs, len(seeds)) == 1
    (Xv, yv), (Xt, yt) = _pair(validation) or (None, None), _pair(test) or (None, None)
    common = dict(augment=augment, blas_threads=None if alone else 1)
    calls = [((build, seed, X, y, config, Xv, yv, Xt, yt), common) for seed in seeds]
    report = None if on_member is None else (lambda value, done, total, i: on_member(value[1], done, total, i))
    trained = map_parallel(_member_of_arrays, calls, n_jobs=n_jobs, scheduler=scheduler, on_result=report)
    networks, results = zip(*trained)
    return Ensemble(networks, combine=combine), list(results)
