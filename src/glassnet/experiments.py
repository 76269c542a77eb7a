"""Named experiments: load a data set, train a network on it, reproduce the seeds' table.

This module is library code (no printing): the CLI formats what it returns.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .network import Network

__all__ = ["DATASETS", "PRESETS", "load_dataset", "train", "REPRODUCTION", "reproduce", "Row"]

#: per-dataset defaults for ``glassnet train``: the book's run for MNIST, the
#: tutorial's full-batch gradient descent for scikit-learn's 8x8 digits.
DATASETS = {
    "mnist": dict(sizes=[784, 30, 10], epochs=30, mini_batch_size=10, eta=3.0, log_every=1),
    "digits": dict(sizes=[64, 30, 10], epochs=3000, mini_batch_size=None, eta=0.25, log_every=100),
    "fashion": dict(sizes=[784, 30, 10], epochs=30, mini_batch_size=10, eta=3.0, log_every=1),
}


#: documented recipes for ``glassnet train --preset NAME`` (flags given beside a preset win).
PRESETS = {
    # chapter 3 of the book: cross-entropy, scaled init, L2, eta halved on plateaus
    "chapter3": dict(sizes=[784, 100, 10], cost="cross-entropy", init="scaled", l2=5.0, eta=0.1,
                     epochs=60, mini_batch_size=10, schedule="halve", patience=10, max_halvings=7),
    # MLPs with ReLU, softmax and momentum, on a freshly distorted training set every epoch
    "fast": dict(sizes=[784, 800, 10], activation="relu", cost="log-likelihood", init="he",
                 momentum=0.9, eta=0.05, schedule="cosine", mini_batch_size=128, epochs=40, augment=True),
    "best": dict(sizes=[784, 800, 800, 10], activation="relu", cost="log-likelihood", init="he",
                 momentum=0.9, eta=0.05, schedule="cosine", mini_batch_size=128, epochs=80, augment=True),
}


def load_dataset(name, *, seed=0, data_dir=None, cache_dir=None, progress=None, dtype=np.float32):
    """Return ``(training, validation, test, sha256)``; each set has ``.X`` (n, d) and ``.y`` (n,).

    ``validation`` is None for the digits, which the tutorial splits 60/40 only.
    """
    if name == "mnist":
        from .datasets import load_mnist
        data = load_mnist(cache_dir=cache_dir, data_dir=data_dir, progress=progress, dtype=dtype)
        return data.training, data.validation, data.test, dict(data.sha256)
    if name == "fashion":
        from .datasets import load_fashion_mnist
        data = load_fashion_mnist(cache_dir=cache_dir, data_dir=data_dir, progress=progress, dtype=dtype)
        return data.training, data.validation, data.test, dict(data.sha256)
    if name == "digits":
        from .datasets import load_digits_split
        training, test = load_digits_split(seed=seed, dtype=dtype)
        return training, None, test, {}
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def train(training, test, sizes, epochs, mini_batch_size, eta, *, seed, log=None, on_batch=None,
          callbacks=()):
    """Build ``Network(sizes, seed=seed)`` and run the book's SGD; returns (network, history).

    ``mini_batch_size=None`` means the full training set (plain gradient descent).
    """
    net = Network(sizes, seed=seed)
    m = len(training.X) if mini_batch_size is None else mini_batch_size
    history = net.SGD((training.X, training.y), epochs, m, eta,
                      test_data=None if test is None else (test.X, test.y),
                      log=log, on_batch=on_batch, callbacks=callbacks)
    return net, history


@dataclass
class Row:
    """One line of the reproduction table; ``book`` is the published accuracy in percent."""
    name: str
    dataset: str
    sizes: list
    epochs: int
    mini_batch_size: int | None
    eta: float
    book: float | None
    source: str
    best_of_seeds: bool = True
    results: list = field(default_factory=list)   # per seed: dict(seed, best, final, seconds)


#: The seeds' chapter-1 results (book = Nielsen ch. 1; primer; tutorial).
REPRODUCTION = [
    Row("784-30-10, eta 3.0", "mnist", [784, 30, 10], 30, 10, 3.0, 95.42, "book, best of 3"),
    Row("784-100-10, eta 3.0", "mnist", [784, 100, 10], 30, 10, 3.0, 96.59, "book"),
    Row("784-10 (no hidden layer)", "mnist", [784, 10], 30, 10, 3.0, 75.0, "primer, 'about 75%'"),
    Row("784-100-10, eta 0.001", "mnist", [784, 100, 10], 30, 10, 0.001, 21.42,
        "book, final epoch", best_of_seeds=False),
    Row("784-30-10, eta 100", "mnist", [784, 30, 10], 30, 10, 100.0, 9.82,
        "book, final epoch", best_of_seeds=False),
    Row("64-30-10 digits, full batch", "digits", [64, 30, 10], 3000, None, 0.25, None,
        "tutorial (no figure printed)", best_of_seeds=False),
]


def reproduce(rows=None, seeds=(0, 1, 2), *, epochs=None, data_dir=None, cache_dir=None,
              on_result=None, progress=None):
    """Train every row once per seed; returns the rows with ``results`` filled in.

    Accuracy in a result is the test accuracy in percent: ``best`` over the epochs
    (what the book reports for 95.42% and 96.59%) and ``final`` (the last epoch).
    ``epochs`` overrides every row's epoch count (for quick checks).
    """
    rows = [Row(**{k: v for k, v in r.__dict__.items() if k != "results"}) for r in (rows or REPRODUCTION)]
    cache = {}
    for row in rows:
        for seed in seeds:
            key = (row.dataset, seed if row.dataset == "digits" else None)
            if key not in cache:
                cache[key] = load_dataset(row.dataset, seed=seed, data_dir=data_dir,
                                          cache_dir=cache_dir, progress=progress)
            training, _, test, _ = cache[key]
            start = time.perf_counter()
            _, history = train(training, test, row.sizes, epochs or row.epochs, row.mini_batch_size,
                               row.eta, seed=seed)
            acc = [100 * h["accuracy"] for h in history]
            result = dict(seed=seed, best=max(acc), final=acc[-1], epochs=len(acc),
                          seconds=time.perf_counter() - start)
            row.results.append(result)
            if on_result is not None:
                on_result(row, result)
    return rows
