"""The seeds' chapter-1 table: the book's network.py runs, the primer's and the tutorial's.

Library code: nothing here prints.  ``CHAPTER_1`` lists the runs with the published figures;
``reproduce_chapter1`` trains each row once per seed (each run planned by
``glassnet.training.runs.plan_run``, as ``glassnet train`` plans one) and returns the rows
with their results; ``format_markdown`` renders them beside the book's figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..datasets import dataset_info, load_dataset
from ..errors import plural
from ..training.runs import plan_run

__all__ = ["Row", "CHAPTER_1", "reproduce_chapter1", "format_markdown"]


@dataclass
class Row:
    """One line of the chapter-1 table; ``book`` is the published accuracy in percent."""

    name: str
    dataset: str
    sizes: list
    epochs: int
    mini_batch_size: int | None
    eta: float
    book: float | None
    source: str
    best_of_seeds: bool = True
    options: dict = field(default_factory=dict)  # beyond chapter 1: more run options (``training.runs``)
    metric: str = "test"  # "validation" where the book reports that
    results: list = field(default_factory=list)  # per seed: dict(seed, best, final, test, seconds)

    def describe(self):
        """One line: dataset, epochs, mini-batch and eta."""
        return (
            f"{self.name} ({self.dataset}, {plural(self.epochs, 'epoch')}, "
            f"mini-batch {self.mini_batch_size or 'full'}, eta {self.eta:g})"
        )


#: The seeds' chapter-1 results (book = Nielsen ch. 1; primer; tutorial).
CHAPTER_1 = [
    Row("784-30-10, eta 3.0", "mnist", [784, 30, 10], 30, 10, 3.0, 95.42, "book, best of 3"),
    Row("784-100-10, eta 3.0", "mnist", [784, 100, 10], 30, 10, 3.0, 96.59, "book"),
    Row("784-10 (no hidden layer)", "mnist", [784, 10], 30, 10, 3.0, 75.0, "primer, 'about 75%'"),
    Row(
        "784-100-10, eta 0.001", "mnist", [784, 100, 10], 30, 10, 0.001, 21.42, "book, final epoch", best_of_seeds=False
    ),
    Row("784-30-10, eta 100", "mnist", [784, 30, 10], 30, 10, 100.0, 9.82, "book, final epoch", best_of_seeds=False),
    Row(
        "64-30-10 digits, full batch",
        "digits",
        [64, 30, 10],
        3000,
        None,
        0.25,
        None,
        "tutorial (no figure printed)",
        best_of_seeds=False,
    ),
    Row(
        "ch. 3: 784-100-10 cross-entropy, L2",
        "mnist",
        [784, 100, 10],
        60,
        10,
        0.1,
        98.04,
        "book ch. 3, validation",
        metric="validation",
        options=dict(cost="cross-entropy", init="scaled", l2=5.0, schedule="halve", patience=10),
    ),
]


def _run(row, seed, data, epochs):
    """Train ``row`` once from ``seed`` on ``data`` (load_dataset's tuple); returns its result."""
    overrides = dict(
        sizes=row.sizes, epochs=epochs or row.epochs, mini_batch_size=row.mini_batch_size, eta=row.eta, **row.options
    )
    start = time.perf_counter()
    plan = plan_run(row.dataset, None, overrides, seed, data=data)
    # the book's SGD watches no validation data; only a row that reports validation accuracy does
    history = plan.fit(validation=plan.validation if row.metric == "validation" else None).history
    key = "accuracy" if row.metric == "test" else "validation_accuracy"
    acc = [100 * h[key] for h in history]
    best = int(np.argmax(acc))
    return dict(
        seed=seed,
        best=acc[best],
        final=acc[-1],
        epochs=len(acc),
        test=100 * history[best]["accuracy"],
        seconds=time.perf_counter() - start,
    )


def reproduce_chapter1(
    rows=None, seeds=(0, 1, 2), *, epochs=None, data_dir=None, cache_dir=None, on_result=None, progress=None
):
    """Train every row (default: ``CHAPTER_1``) once per seed; returns copies of the rows with
    ``results`` filled in.

    Accuracy in a result is in percent, on the test data (on the validation data for a row
    whose ``metric`` says so): ``best`` over the epochs (what the book reports for 95.42% and
    96.59%) and ``final`` (the last epoch); ``test`` is the test accuracy at the best epoch.
    ``epochs`` overrides every row's epoch count (for quick checks).  ``on_result(row,
    result)`` after each run.  Each data set is loaded once (the digits once per seed).
    """
    rows = [Row(**{k: v for k, v in r.__dict__.items() if k != "results"}) for r in (rows or CHAPTER_1)]
    cache = {}
    for row in rows:
        for seed in seeds:
            key = (row.dataset, seed if dataset_info(row.dataset).seeded_split else None)
            if key not in cache:
                cache[key] = load_dataset(
                    row.dataset, seed=seed, data_dir=data_dir, cache_dir=cache_dir, progress=progress
                )
            result = _run(row, seed, cache[key], epochs)
            row.results.append(result)
            if on_result is not None:
                on_result(row, result)
    return rows


def format_markdown(rows, seeds):
    """The table (Markdown): ours against the book, per seed, seconds per run."""
    lines = [
        "| experiment | book | source | ours (best of seeds) | mean ± sd | per seed | seconds/run |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        key = "best" if row.best_of_seeds else "final"
        vals = np.array([r[key] for r in row.results])
        book = "-" if row.book is None else f"{row.book:.2f}%"
        per_seed = ", ".join(f"{r['seed']}: {r[key]:.2f}" for r in row.results)
        secs = np.mean([r["seconds"] for r in row.results])
        label = "best epoch" if row.best_of_seeds else "final epoch"
        if row.metric == "validation":
            top = max(row.results, key=lambda r: r[key])
            label = f"best validation epoch; test {top['test']:.2f}% there"
        lines.append(
            f"| {row.name} | {book} | {row.source} | {vals.max():.2f}% ({label}) | "
            f"{vals.mean():.2f} ± {vals.std():.2f} | {per_seed} | {secs:.0f} |"
        )
    lines.append("")
    lines.append(
        f"Seeds {','.join(map(str, seeds))}; accuracy on the 10,000 MNIST test images (on the "
        f"40% test part for the digits; on the 10,000 validation images where the row says so)."
    )
    return "\n".join(lines)
