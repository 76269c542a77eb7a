"""Named experiments: load a data set, train a network on it, reproduce the seeds' table.

This module is library code (no printing): the CLI formats what it returns.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..core.network import Network
from ..errors import InputError
from .loop import TrainingConfig, fit

__all__ = ["DATASETS", "PRESETS", "load_dataset", "train", "REPRODUCTION", "reproduce", "Row", "run_options",
           "network_from_options", "config_from_options", "augmenter_from_options", "train_preset", "joined"]

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
    # MLPs with ReLU, softmax and momentum on all 60,000 training images, freshly distorted
    # every epoch (rotation, zoom, shift, elastic): half of them for fast, all of them for best
    "fast": dict(sizes=[784, 800, 10], activation="relu", cost="log-likelihood", init="he",
                 momentum=0.9, eta=0.1, schedule="cosine", mini_batch_size=128, epochs=50, augment=0.5,
                 monitor_training=10000, train_on_validation=True),
    "best": dict(sizes=[784, 800, 800, 10], activation="relu", cost="log-likelihood", init="he",
                 momentum=0.9, eta=0.1, schedule="cosine", mini_batch_size=128, epochs=110, augment=1.0,
                 monitor_training=10000, train_on_validation=True),
    # chapter 6's layers with glassnet's recipe: ReLU, momentum, a cosine schedule, mini-batches
    # of 64 on all 60,000 training images; conv-fast for a quick 99% (five epochs); conv-best
    # for 99.5% in 3 minutes: wider convolutions (32, 64), dropout before an FC 256 layer, L2,
    # and every image freshly rotated, zoomed and shifted each epoch (no elastic distortion)
    "conv-fast": dict(layers="conv20x5:relu,pool2,conv40x5:relu,pool2,fc100:relu", momentum=0.9, eta=0.05,
                      schedule="cosine", mini_batch_size=64, epochs=5, train_on_validation=True),
    "conv-best": dict(layers="conv32x5:relu,pool2,conv64x5:relu,pool2,fc256:relu:d0.5", momentum=0.9, eta=0.05,
                      l2=0.5, schedule="cosine", mini_batch_size=64, epochs=20, train_on_validation=True,
                      augment=dict(rotate=8.0, zoom=0.08, shift=2.0, elastic_alpha=0.0)),
}


def run_options(dataset="mnist", preset=None, **overrides):
    """The merged options of a run: the data set's defaults, then the preset, then ``overrides``."""
    if dataset not in DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if preset is not None and preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return {**DATASETS[dataset], **(PRESETS[preset] if preset else {}), **overrides}


def network_from_options(opts, n_inputs, seed):
    """The book's ``Network`` for ``opts["sizes"]``, or the ``LayerNetwork`` that ``opts["layers"]``
    describes on square images of ``n_inputs`` pixels (1 x side x side), seeded with ``seed``."""
    if not opts.get("layers"):
        return Network(opts["sizes"], seed=seed, cost=opts.get("cost", "quadratic"),
                       activation=opts.get("activation", "sigmoid"), init=opts.get("init", "standard"))
    from .layerspec import layer_network
    side = math.isqrt(n_inputs)
    return layer_network(opts["layers"], (1, side, side), 10, activation=opts.get("activation", "sigmoid"),
                         seed=seed)


def config_from_options(opts, n_training):
    """The ``TrainingConfig`` of merged options (a mini-batch size of None: all ``n_training``)."""
    schedule = opts.get("schedule", "constant")
    return TrainingConfig(
        epochs=opts["epochs"], mini_batch_size=opts["mini_batch_size"] or n_training, eta=opts["eta"],
        lmbda=opts.get("l2", 0.0), momentum=opts.get("momentum", 0.0), schedule=schedule,
        patience=opts.get("patience", 5), max_halvings=opts.get("max_halvings", 7),
        early_stop=opts.get("early_stop"), keep_best=bool(opts.get("early_stop") or schedule == "halve"),
        monitor_training=opts.get("monitor_training", 0))


def augmenter_from_options(opts):
    """The ``Augmenter`` of ``opts["augment"]``: None when absent or false; True: every image
    with the default distortions; a number: that share of the images; a dict: Augmenter's
    own arguments."""
    value = opts.get("augment")
    if not value:
        return None
    from .augment import Augmenter
    if isinstance(value, dict):
        return Augmenter(**value)
    return Augmenter(fraction=1.0 if value is True else float(value))


def joined(training, validation):
    """One data set of the training images followed by the validation images (MNIST's 60,000)."""
    return type(training)(np.concatenate([training.X, validation.X]), np.concatenate([training.y, validation.y]))


def train_preset(preset, *, seed=0, dataset="mnist", data_dir=None, cache_dir=None, callbacks=(), **overrides):
    """Train a documented recipe from Python as ``glassnet train --preset PRESET`` does.

    ``overrides`` replace the preset's options (e.g. ``epochs=3``).  Returns
    ``(network, FitResult, test)``: the trained network, its per-epoch history (test
    accuracy after every epoch) and the test set it was measured on.
    """
    opts = run_options(dataset, preset, **overrides)
    training, validation, test, _ = load_dataset(dataset, seed=seed, data_dir=data_dir, cache_dir=cache_dir)
    if opts.get("train_on_validation") and validation is not None:
        training, validation = joined(training, validation), None
    net = network_from_options(opts, training.X.shape[1], seed)
    result = fit(net, training, config_from_options(opts, len(training.X)), validation=validation, test=test,
                 augment=augmenter_from_options(opts), callbacks=callbacks)
    return net, result, test


def load_dataset(name, *, seed=0, data_dir=None, cache_dir=None, progress=None, dtype=np.float32):
    """Return ``(training, validation, test, sha256)``; each set has ``.X`` (n, d) and ``.y`` (n,).

    ``validation`` is None for the digits, which the tutorial splits 60/40 only.
    """
    if name == "mnist":
        from ..datasets import load_mnist
        data = load_mnist(cache_dir=cache_dir, data_dir=data_dir, progress=progress, dtype=dtype)
        return data.training, data.validation, data.test, dict(data.sha256)
    if name == "fashion":
        from ..datasets import load_fashion_mnist
        data = load_fashion_mnist(cache_dir=cache_dir, data_dir=data_dir, progress=progress, dtype=dtype)
        return data.training, data.validation, data.test, dict(data.sha256)
    if name == "digits":
        from ..datasets import load_digits_split
        training, test = load_digits_split(seed=seed, dtype=dtype)
        return training, None, test, {}
    raise InputError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def train(training, test, sizes, epochs, mini_batch_size, eta, *, seed, validation=None, options=None,
          callbacks=()):
    """Build a Network and train it with ``fit``; returns (network, FitResult).

    ``mini_batch_size=None`` means the full training set (plain gradient descent).
    ``options`` may hold cost, activation, init (for the Network) and l2, momentum,
    schedule, patience, max_halvings, early_stop (for the training loop).  Without
    options this is exactly the book's SGD.
    """
    options = dict(options or {})
    net = Network(sizes, seed=seed, cost=options.pop("cost", "quadratic"),
                  activation=options.pop("activation", "sigmoid"), init=options.pop("init", "standard"))
    lmbda = options.pop("l2", 0.0)
    config = TrainingConfig(epochs=epochs, eta=eta, lmbda=lmbda,
                            mini_batch_size=len(training.X) if mini_batch_size is None else mini_batch_size,
                            keep_best=False, **options)
    return net, fit(net, training, config, validation=validation, test=test, callbacks=callbacks)


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
    options: dict = field(default_factory=dict)   # beyond chapter 1: see ``train``
    metric: str = "test"                          # "validation" where the book reports that
    results: list = field(default_factory=list)   # per seed: dict(seed, best, final, test, seconds)


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
    Row("ch. 3: 784-100-10 cross-entropy, L2", "mnist", [784, 100, 10], 60, 10, 0.1, 98.04,
        "book ch. 3, validation", metric="validation",
        options=dict(cost="cross-entropy", init="scaled", l2=5.0, schedule="halve", patience=10)),
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
            training, validation, test, _ = cache[key]
            start = time.perf_counter()
            _, fitted = train(training, test, row.sizes, epochs or row.epochs, row.mini_batch_size,
                              row.eta, seed=seed, options=row.options,
                              validation=validation if row.metric == "validation" else None)
            history = fitted.history
            key = "accuracy" if row.metric == "test" else "validation_accuracy"
            acc = [100 * h[key] for h in history]
            best = int(np.argmax(acc))
            result = dict(seed=seed, best=acc[best], final=acc[-1], epochs=len(acc),
                          test=100 * history[best]["accuracy"], seconds=time.perf_counter() - start)
            row.results.append(result)
            if on_result is not None:
                on_result(row, result)
    return rows
