"""Hyper-parameter sweeps: a grid of trainings run in parallel with joblib.

``grid(...)`` lists the runs (every combination of the values given, times the seeds);
``run_sweep(runs, ...)`` trains them on the local cores through joblib, or on a Dask
cluster with ``scheduler="tcp://host:8786"`` (joblib's "dask" backend; needs the
extra ``dask``), and returns one row per run.  Each run builds a ``Network`` from its
options (``training.runs``, as every run does), trains it with ``glassnet.training.fit``
watching a validation set and the test set, and reports the best validation accuracy,
the test accuracy at that epoch and its seconds.  The data are loaded once, in the
caller, and passed to the workers as arrays (joblib memory-maps them for local
processes; dask scatters them once).

This module is library code: it never prints.  ``glassnet sweep`` (cli/sweep.py) is
the command around it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import math
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..core.functions import COSTS as COST_TABLE
from ..errors import InputError

__all__ = [
    "map_parallel",
    "Run",
    "grid",
    "load_sweep_data",
    "run_one",
    "run_sweep",
    "write_csv",
    "best_config",
    "format_table",
    "COLUMNS",
    "CONFIG_KEYS",
]

#: the hyper-parameters a sweep varies (everything of a run but its seed)
CONFIG_KEYS = ("sizes", "eta", "mini_batch_size", "epochs", "cost", "l2")

#: the CSV's columns, in order
COLUMNS = CONFIG_KEYS + ("seed", "best_validation_accuracy", "best_epoch", "test_accuracy", "epochs_run", "seconds")

COSTS = tuple(COST_TABLE)


@dataclass(frozen=True)
class Run:
    """One training of a sweep: a configuration and a seed."""

    sizes: tuple
    eta: float
    mini_batch_size: int
    epochs: int
    cost: str
    l2: float
    seed: int

    @property
    def config(self):
        """The configuration without the seed, as a tuple of CONFIG_KEYS' values."""
        return tuple(getattr(self, k) for k in CONFIG_KEYS)


def grid(*, sizes, eta, mini_batch_size, epochs, cost=("quadratic",), l2=(0.0,), seeds=(0,), dataset=None):
    """Every combination of the values given (each a sequence), in that order, seeds last;
    a value given twice counts once.

    Raises ValueError naming the first bad value.  With ``dataset`` the sizes must fit
    it (its inputs and classes: ``runs.check_sizes``).
    """
    from .runs import check_sizes

    sizes = [tuple(int(n) for n in s) for s in sizes]
    for s in sizes:
        if len(s) < 2 or min(s) < 1:
            raise InputError(f"sizes need at least two layers, each > 0, got {'-'.join(map(str, s))}")
        if dataset is not None:
            check_sizes(s, dataset, sep="-")
    for value in eta:
        if not (value > 0 and math.isfinite(value)):
            raise InputError(f"eta must be > 0, got {value}")
    for name, values in (("mini_batch_size", mini_batch_size), ("epochs", epochs)):
        for value in values:
            if int(value) != value or value < 1:
                raise InputError(f"{name} must be an integer >= 1, got {value}")
    for value in cost:
        if value not in COSTS:
            raise InputError(f"unknown cost {value!r}; choose one of {', '.join(COSTS)}")
    for value in l2:
        if not (value >= 0 and math.isfinite(value)):
            raise InputError(f"l2 must be >= 0, got {value}")
    for value in seeds:
        if int(value) != value or value < 0:
            raise InputError(f"seeds must be integers >= 0, got {value}")
    lists = [
        sizes,
        [float(v) for v in eta],
        [int(v) for v in mini_batch_size],
        [int(v) for v in epochs],
        list(cost),
        [float(v) for v in l2],
        [int(v) for v in seeds],
    ]
    lists = [list(dict.fromkeys(values)) for values in lists]  # a value given twice runs once
    if not all(lists):
        raise InputError("every grid option needs at least one value")
    return [Run(*values) for values in itertools.product(*lists)]


def load_sweep_data(dataset, *, split_seed=0, validation_fraction=1 / 6, data_dir=None, cache_dir=None, progress=None):
    """``(training, validation, test)``, each a pair ``(X, y)`` of arrays.

    MNIST: the book's 50,000 / 10,000 / 10,000.  Digits: the tutorial's 60/40 split
    (seeded by ``split_seed``), with ``validation_fraction`` of its training part held
    out as validation, drawn by ``numpy.random.default_rng(split_seed)``.
    """
    from ..datasets import load_dataset

    training, validation, test, _ = load_dataset(
        dataset, seed=split_seed, data_dir=data_dir, cache_dir=cache_dir, progress=progress
    )
    if validation is None:
        order = np.random.default_rng(split_seed).permutation(len(training.X))
        n_val = max(1, int(round(validation_fraction * len(order))))
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        validation = (training.X[val], training.y[val])
        training = (training.X[train], training.y[train])
    as_pair = lambda d: (np.ascontiguousarray(d[0]), np.ascontiguousarray(d[1]))
    return as_pair(training), as_pair(validation), as_pair(test)


def run_one(run, X_train, y_train, X_val, y_val, X_test, y_test, *, blas_threads=None):
    """Train one run; returns its row (a dict with the keys of COLUMNS).

    The arrays are separate arguments (not a tuple) so that joblib's dask backend
    can scatter each once.  ``blas_threads`` caps the BLAS threads while it trains
    (threadpoolctl, when installed), so parallel runs do not oversubscribe cores.
    """
    from .loop import TrainingDiverged, fit
    from .runs import config_from_options, network_from_options

    limit = contextlib.nullcontext()
    if blas_threads is not None:
        try:
            from threadpoolctl import threadpool_limits

            limit = threadpool_limits(limits=blas_threads, user_api="blas")
        except ImportError:
            pass
    start = time.perf_counter()
    with limit:
        options = dict(
            sizes=list(run.sizes),
            cost=run.cost,
            epochs=run.epochs,
            mini_batch_size=run.mini_batch_size,
            eta=run.eta,
            l2=run.l2,
        )
        net = network_from_options(options, run.sizes[:1], run.sizes[-1], run.seed)
        config = config_from_options(options, len(X_train))
        try:
            result = fit(net, (X_train, y_train), config, validation=(X_val, y_val), test=(X_test, y_test))
            history, best = result.history, result.best_epoch
        except TrainingDiverged:  # a bad corner of the grid: a row, not a crash
            history, best = [], None
    seconds = time.perf_counter() - start
    row = {k: v for k, v in asdict(run).items()}
    row["sizes"] = "-".join(map(str, run.sizes))
    if best is None:
        row.update(best_validation_accuracy=float("nan"), best_epoch=None, test_accuracy=float("nan"))
    else:
        row.update(
            best_validation_accuracy=history[best]["validation_accuracy"],
            best_epoch=best,
            test_accuracy=history[best]["accuracy"],
        )
    row.update(epochs_run=len(history), seconds=round(seconds, 4))
    return row


def _call_indexed(i, fn, *args, **kwargs):
    return i, fn(*args, **kwargs)


def map_parallel(fn, calls, *, n_jobs=2, scheduler=None, on_result=None):
    """``[fn(*args, **kwargs) for args, kwargs in calls]``, computed in parallel.

    n_jobs : local worker processes (joblib's loky backend), never more than there are calls;
        1 computes in this process.
    scheduler : a Dask scheduler address: compute on that cluster instead (joblib's dask
        backend; needs dask.distributed).
    on_result : ``on_result(value, done, total, index)`` as each call finishes (finishing order).
    Returns the values in the order of ``calls``.  Large arrays among the arguments are
    memory-mapped for local workers (joblib) and scattered once to a cluster (dask).
    """
    calls = list(calls)
    values = [None] * len(calls)
    n_jobs = max(1, min(int(n_jobs), len(calls)))  # 6 workers for 2 members would idle 4

    def collect(results):
        for done, (i, value) in enumerate(results, 1):
            values[i] = value
            if on_result is not None:
                on_result(value, done, len(calls), i)

    if scheduler is None and n_jobs == 1:
        collect((i, fn(*args, **kwargs)) for i, (args, kwargs) in enumerate(calls))
        return values
    try:
        import joblib
    except ImportError:
        raise ImportError("training in parallel needs joblib: pip install joblib (or use n_jobs=1)") from None
    tasks = [joblib.delayed(_call_indexed)(i, fn, *args, **kwargs) for i, (args, kwargs) in enumerate(calls)]
    if scheduler is None:
        with joblib.parallel_config(backend="loky", n_jobs=n_jobs):
            collect(joblib.Parallel(return_as="generator_unordered")(tasks))
        return values
    try:
        from dask.distributed import Client
    except ImportError:
        raise ImportError("scheduler= needs dask.distributed: pip install \"glassnet[dask]\"") from None
    with Client(scheduler, timeout=30) as client:  # connects to the cluster; closes only this client
        with joblib.parallel_config(backend="dask", client=client):
            collect(joblib.Parallel(return_as="generator_unordered")(tasks))
    return values


def run_sweep(runs, data, *, n_jobs=2, scheduler=None, on_result=None):
    """Train every run of ``runs`` on ``data`` = (training, validation, test) pairs.

    n_jobs : local worker processes (joblib's loky backend); 1 runs in this process.
    scheduler : a Dask scheduler address ("tcp://host:8786"): run on that cluster
        instead, as many runs at once as it has worker threads.
    on_result : ``on_result(row, done, total, index)`` as each run finishes (in finishing
        order; ``index`` is the run's position in ``runs``).

    Returns the rows in the order of ``runs``.  The same runs give the same
    accuracies wherever they run: each run's randomness comes from its seed alone.
    """
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = data
    arrays = (X_train, y_train, X_val, y_val, X_test, y_test)
    # workers share the cores: one BLAS thread each (in this process, BLAS keeps its own)
    limit = {} if scheduler is None and n_jobs == 1 else {"blas_threads": 1}
    return map_parallel(
        run_one, [((r, *arrays), limit) for r in runs], n_jobs=n_jobs, scheduler=scheduler, on_result=on_result
    )


# -- results -----------------------------------------------------------------------------------
def write_csv(rows, path):
    """Write the rows (keys COLUMNS) to ``path`` as CSV, atomically."""
    from ..files import atomic_write

    atomic_write(path, lambda f: f.write(format_csv(rows).encode()))


def format_csv(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in COLUMNS})
    return buffer.getvalue()


def best_config(rows):
    """The configuration with the best mean validation accuracy over its seeds.

    Returns ``dict(config..., seeds, runs, best_validation_accuracy, test_accuracy)``
    with the means over the seeds, or None when no run finished.
    """
    groups = {}
    for row in rows:
        if row is not None and not math.isnan(row["best_validation_accuracy"]):
            groups.setdefault(tuple(row[k] for k in CONFIG_KEYS), []).append(row)
    if not groups:
        return None
    key, group = max(groups.items(), key=lambda kv: np.mean([r["best_validation_accuracy"] for r in kv[1]]))
    return dict(
        zip(CONFIG_KEYS, key),
        seeds=[r["seed"] for r in group],
        runs=len(group),
        best_validation_accuracy=float(np.mean([r["best_validation_accuracy"] for r in group])),
        test_accuracy=float(np.mean([r["test_accuracy"] for r in group])),
    )


def format_table(rows):
    """The rows as an aligned text table, accuracies in percent."""
    head = ["sizes", "eta", "batch", "epochs", "cost", "l2", "seed", "val %", "best ep", "test %", "seconds"]
    body = []
    for r in rows:
        pct = lambda v: "diverged" if v is None or math.isnan(v) else f"{100 * v:.2f}"
        body.append(
            [
                r["sizes"],
                f"{r['eta']:g}",
                str(r["mini_batch_size"]),
                str(r["epochs"]),
                r["cost"],
                f"{r['l2']:g}",
                str(r["seed"]),
                pct(r["best_validation_accuracy"]),
                "-" if r["best_epoch"] is None else str(r["best_epoch"]),
                pct(r["test_accuracy"]),
                f"{r['seconds']:.2f}",
            ]
        )
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    right = {1, 2, 3, 5, 6, 7, 8, 9, 10}
    fmt = lambda cells: "  ".join(
        c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
    ).rstrip()
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(b) for b in body])
