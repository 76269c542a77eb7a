"""The book's chapter-3 and chapter-5 experiments, run with ``glassnet.network2``.

Library code: nothing here prints. ``reproduce_chapter`` trains each experiment once per
seed and returns rows holding the book's figure beside the measured ones, and
``format_markdown`` renders them. Three more functions return data series that the CLI can
plot: the learning-rate comparison and the initialisation comparison of chapter 3, and
chapter 5's speed of learning per hidden layer.

Every run uses network2's defaults unless it says otherwise: sigmoid neurons, the
cross-entropy cost, mini-batches of 10 and the N(0, 1/n_in) initial weights (``"default"``).
``"large"`` means the N(0, 1) weights that the book's chapter-3 listings ask for with
``net.large_weight_initializer()`` before it introduces the better initialisation.
``data`` is what ``glassnet.datasets.load_mnist()`` returns: ``.training``, ``.validation``
and ``.test``, each with ``.X`` (n, 784) and ``.y`` (n,).

quick=True is a shorter form for tests. Each run gets one epoch (the overfitting runs get
ten), is trained on at most the first 1,000 training images and is evaluated on the first
1,000 evaluation images. It checks the plumbing in seconds; its accuracies mean nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..labels import one_hot
from ..network2 import CrossEntropyCost, Network

__all__ = [
    "Experiment",
    "CHAPTER_3",
    "CHAPTER_5",
    "CHAPTERS",
    "QUICK",
    "run_experiment",
    "reproduce_chapter",
    "format_markdown",
    "learning_speed",
    "LearningSpeedRecorder",
    "learning_speed_during_training",
    "BOOK_INITIAL_SPEEDS",
    "Series",
    "learning_rate_comparison",
    "initialisation_comparison",
]


@dataclass
class Experiment:
    """One of the book's runs with network2 and its published accuracy.

    book : the published classification accuracy in percent, on ``evaluate`` data
    figure : what the book's number is: "peak" (the best epoch, as the book says) or
        "as printed" (the book gives one number without saying which epoch's)
    n_train : train on the first n training images only (None: all 50,000)
    results : per seed, filled in by ``reproduce_chapter``: dict(seed, best, best_epoch,
        final, accuracy (percent per epoch), epochs, seconds)
    """

    name: str
    sizes: list
    epochs: int
    eta: float
    lmbda: float
    book: float
    evaluate: str  # "test" or "validation": the data the book's figure is on
    init: str = "default"  # "default" N(0, 1/n_in) or "large" N(0, 1)
    mini_batch_size: int = 10
    n_train: int | None = None
    figure: str = "as printed"
    chapter: int = 3
    results: list = field(default_factory=list)


#: Chapter 3, in the book's order. Which data each figure is on: the first three and the
#: overfitting runs report test accuracy; the 100-neuron L2 runs report validation accuracy.
CHAPTER_3 = [
    # "The cross-entropy cost function" section: net.large_weight_initializer(), then SGD on test data
    Experiment("784-30-10 cross-entropy", [784, 30, 10], 30, 0.5, 0.0, 95.49, "test", init="large"),
    Experiment("784-100-10 cross-entropy", [784, 100, 10], 30, 0.5, 0.0, 96.82, "test", init="large"),
    # "Overfitting": the first 1,000 training images for 400 epochs; the book quotes the peak
    # test accuracy (82.27%), then 87.1% with lambda 0.1
    Experiment(
        "784-30-10, 1,000 images, 400 epochs",
        [784, 30, 10],
        400,
        0.5,
        0.0,
        82.27,
        "test",
        init="large",
        n_train=1000,
        figure="peak",
    ),
    Experiment(
        "784-30-10, 1,000 images, 400 epochs, lambda 0.1",
        [784, 30, 10],
        400,
        0.5,
        0.1,
        87.1,
        "test",
        init="large",
        n_train=1000,
        figure="peak",
    ),
    # "Regularization" on all 50,000 images: 95.49% -> 96.49% on test data for 30 neurons;
    # 97.92% on validation data for 100 neurons; 98.04% (validation) with eta 0.1 for 60 epochs
    Experiment("784-30-10 cross-entropy, lambda 5.0", [784, 30, 10], 30, 0.5, 5.0, 96.49, "test", init="large"),
    Experiment("784-100-10 cross-entropy, lambda 5.0", [784, 100, 10], 30, 0.5, 5.0, 97.92, "validation", init="large"),
    Experiment(
        "784-100-10, eta 0.1, lambda 5.0, 60 epochs", [784, 100, 10], 60, 0.1, 5.0, 98.04, "validation", init="large"
    ),
]

#: Chapter 5, "The vanishing gradient problem": deeper networks with chapter 3's settings and
#: network2's default initialisation, on validation data.
CHAPTER_5 = [
    Experiment(f"{'-'.join(map(str, sizes))}, lambda 5.0", sizes, 30, 0.1, 5.0, book, "validation", chapter=5)
    for sizes, book in (
        ([784, 30, 10], 96.48),
        ([784, 30, 30, 10], 96.90),
        ([784, 30, 30, 30, 10], 96.57),
        ([784, 30, 30, 30, 30, 10], 96.53),
    )
]

CHAPTERS = {3: CHAPTER_3, 5: CHAPTER_5}

#: quick=True (see the module docstring)
QUICK = dict(epochs=1, overfitting_epochs=10, n_train=1000, n_evaluate=1000)


def _subset(dataset, n):
    X, y = (dataset.X, dataset.y) if hasattr(dataset, "X") else dataset
    return (X, y) if n is None else (X[:n], y[:n])


def _plan(experiment, data, quick, epochs):
    """``(epochs, training (X, y), evaluation (X, y))`` for one run."""
    n_train, n_evaluate = experiment.n_train, None
    if quick:
        n_train = min(n_train or QUICK["n_train"], QUICK["n_train"])
        n_evaluate = QUICK["n_evaluate"]
        if epochs is None:
            epochs = QUICK["overfitting_epochs"] if experiment.n_train else QUICK["epochs"]
    evaluation = data.test if experiment.evaluate == "test" else data.validation
    return (epochs or experiment.epochs, _subset(data.training, n_train), _subset(evaluation, n_evaluate))


def run_experiment(experiment, data, seed, *, quick=False, epochs=None):
    """Train ``experiment`` once with network2 and return its result dict.

    Keys: seed, accuracy (evaluation accuracy in percent after each epoch), best,
    best_epoch, final, epochs, seconds (the SGD call, with its per-epoch evaluation).
    """
    n_epochs, training, evaluation = _plan(experiment, data, quick, epochs)
    net = Network(experiment.sizes, cost=CrossEntropyCost, seed=seed)
    if experiment.init == "large":
        net.large_weight_initializer()
    elif experiment.init != "default":
        raise ValueError(f"init must be 'default' or 'large', got {experiment.init!r}")
    start = time.perf_counter()
    _, correct, _, _ = net.SGD(
        training,
        n_epochs,
        experiment.mini_batch_size,
        experiment.eta,
        lmbda=experiment.lmbda,
        evaluation_data=evaluation,
        monitor_evaluation_accuracy=True,
        log=None,
    )
    seconds = time.perf_counter() - start
    accuracy = [100.0 * c / len(evaluation[1]) for c in correct]
    best = int(np.argmax(accuracy))
    return dict(
        seed=seed,
        accuracy=accuracy,
        best=accuracy[best],
        best_epoch=best,
        final=accuracy[-1],
        epochs=n_epochs,
        seconds=seconds,
    )


def reproduce_chapter(chapter, seeds, *, quick=False, epochs=None, on_result=None, data=None, only=None):
    """Run every experiment of ``chapter`` (3 or 5) once per seed; return the experiments
    (copies) with ``results`` filled in.

    seeds : an int or a list of ints. quick : the shorter form (module docstring).
    epochs : overrides every run's epoch count. on_result : ``on_result(experiment, result)``
    after each run (for progress). data : MNIST as ``load_mnist()`` returns it (loaded if None).
    only : the names of the experiments to run (default: all of the chapter's).
    """
    if chapter not in CHAPTERS:
        raise ValueError(f"chapter must be one of {sorted(CHAPTERS)}, got {chapter!r}")
    seeds = [seeds] if isinstance(seeds, (int, np.integer)) else list(seeds)
    if not seeds:
        raise ValueError("give at least one seed")
    if epochs is not None and int(epochs) < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if data is None:
        from ..datasets import load_mnist

        data = load_mnist()
    rows = [
        replace(experiment, results=[]) for experiment in CHAPTERS[chapter] if only is None or experiment.name in only
    ]
    for row in rows:
        for seed in seeds:
            result = run_experiment(row, data, seed, quick=quick, epochs=epochs)
            row.results.append(result)
            if on_result is not None:
                on_result(row, result)
    return rows


def format_markdown(rows):
    """A Markdown table of reproduced experiments: the book's figure beside the best of the
    seeds, the mean and spread of each seed's best epoch, the mean final epoch, per seed."""
    lines = [
        "| experiment | data | book | ours, best of seeds | best epoch, mean ± sd | final (mean) | "
        "per seed: best (epoch) | epochs | s / run |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for row in rows:
        res = row.results
        if res:
            bests = np.array([r["best"] for r in res])
            top = f"{bests.max():.2f}%"
            spread = f"{bests.mean():.2f} ± {bests.std():.2f}"
            final = f"{np.mean([r['final'] for r in res]):.2f}%"
            each = ", ".join(f"{r['seed']}: {r['best']:.2f} ({r['best_epoch']})" for r in res)
            epochs = str(res[0]["epochs"])
            seconds = f"{np.mean([r['seconds'] for r in res]):.1f}"
        else:
            top = spread = final = each = seconds = "-"
            epochs = str(row.epochs)
        data = row.evaluate + (f", {row.n_train:,} training images" if row.n_train else "")
        book = f"{row.book:.2f}%" + (" (peak)" if row.figure == "peak" else "")
        lines.append(f"| {row.name} | {data} | {book} | {top} | {spread} | {final} | {each} | {epochs} | {seconds} |")
    return "\n".join(lines) + "\n"


# -- chapter 5: the speed of learning ----------------------------------------------------------
#: The book's chapter-5 numbers at initialisation, ||dC/db^l|| for hidden layers 1, 2, ...
#: (one random network each, so only their order of magnitude and trend are comparable).
BOOK_INITIAL_SPEEDS = {
    (784, 30, 30, 10): [0.07, 0.31],
    (784, 30, 30, 30, 10): [0.012, 0.060, 0.283],
    (784, 30, 30, 30, 30, 10): [0.003, 0.017, 0.070, 0.285],
}


def learning_speed(network, X, y):
    """The speed of learning of each hidden layer (chapter 5): ``||dC/db^l||``, the length
    of the gradient with respect to layer l's biases of the cost averaged over the examples.

    network : a network2.Network or a glassnet.Network. X : (m, n_in). y : (m,) int labels
    or (m, n_out) targets. Returns a list of floats, one per hidden layer, first to last.
    """
    core = getattr(network, "core", network)
    X = np.asarray(X, dtype=core.dtype)
    y = np.asarray(y)
    Y = one_hot(y, core.sizes[-1], core.dtype) if y.ndim == 1 else y.astype(core.dtype)
    nabla_b, _ = core.backprop(X, Y, scale=1.0 / len(X))  # the gradient of the mean cost
    return [float(np.linalg.norm(nb.astype(np.float64))) for nb in nabla_b[:-1]]


class LearningSpeedRecorder:
    """A callback for ``network2.Network.SGD(callbacks=...)`` or ``glassnet.training.fit``:
    records ``learning_speed`` on X, y after each epoch in ``speeds`` (a list of lists).
    Call ``record(network)`` before training for the speeds at initialisation."""

    def __init__(self, X, y):
        self.X, self.y, self.speeds = X, y, []

    def record(self, network):
        self.speeds.append(learning_speed(network, self.X, self.y))

    def __call__(self, network, record=None):
        self.record(network)
        return False


@dataclass
class Series:
    """Data for one plot: one line per label, over ``x`` (epochs)."""

    title: str
    xlabel: str
    ylabel: str
    x: list
    lines: dict


def learning_speed_during_training(
    data,
    seed,
    *,
    sizes=(784, 30, 30, 30, 30, 10),
    n_images=1000,
    epochs=500,
    mini_batch_size=1000,
    eta=0.1,
    lmbda=5.0,
    quick=False,
):
    """Chapter 5's "speed of learning" figure: ``learning_speed`` of each hidden layer on the
    first ``n_images`` training images, at initialisation and after each epoch of training on
    them. The defaults are those of the book's script (fig/generate_gradient.py): mini-batches
    of 1,000 (one step per epoch), eta 0.1, lambda 5.0, 500 epochs. That script records before
    each epoch; here x = 0..epochs, the same points and the one after the last epoch.
    quick: 2 epochs. Returns a Series."""
    X, y = _subset(data.training, n_images)
    epochs = 2 if quick else int(epochs)
    net = Network(list(sizes), cost=CrossEntropyCost, seed=seed)
    recorder = LearningSpeedRecorder(X, y)
    recorder.record(net)
    net.SGD((X, y), epochs, mini_batch_size, eta, lmbda=lmbda, log=None, callbacks=[recorder])
    lines = {f"hidden layer {l + 1}": [s[l] for s in recorder.speeds] for l in range(len(sizes) - 2)}
    return Series(
        f"Speed of learning: {len(sizes) - 2} hidden layers",
        "epoch",
        "||dC/db^l||",
        list(range(len(recorder.speeds))),
        lines,
    )


# -- chapter 3: choosing hyper-parameters ------------------------------------------------------
def learning_rate_comparison(data, seed, *, etas=(0.025, 0.25, 2.5), epochs=30, quick=False):
    """Chapter 3's learning-rate figure: the training cost (L2 term included) after each
    epoch for each eta, on 784-30-10 with the cross-entropy cost, lambda 5.0, mini-batches of
    10, all 50,000 training images (quick: 1,000 images, 2 epochs). Returns a Series."""
    n_train, epochs = (QUICK["n_train"], 2) if quick else (None, int(epochs))
    training = _subset(data.training, n_train)
    lines = {}
    for eta in etas:
        net = Network([784, 30, 10], cost=CrossEntropyCost, seed=seed)
        _, _, cost, _ = net.SGD(training, epochs, 10, eta, lmbda=5.0, monitor_training_cost=True, log=None)
        lines[f"eta = {eta}"] = cost
    return Series("Cost on the training data", "epoch", "cost", list(range(epochs)), lines)


def initialisation_comparison(data, seed, *, sizes_list=((784, 30, 10), (784, 100, 10)), epochs=30, quick=False):
    """Chapter 3's weight-initialisation figures: validation accuracy (percent) after each
    epoch with the large N(0, 1) and the default N(0, 1/n_in) initial weights, cross-entropy
    cost, eta 0.1, lambda 5.0 (the settings of the chapter's text; an older version of the
    book's plotting script used eta 0.01, lambda 0.002), mini-batches of 10, for each network in ``sizes_list``
    (quick: 1,000 training and 1,000 validation images, 2 epochs). Returns one Series per
    network."""
    n_train, n_evaluate, epochs = (QUICK["n_train"], QUICK["n_evaluate"], 2) if quick else (None, None, int(epochs))
    training, validation = _subset(data.training, n_train), _subset(data.validation, n_evaluate)
    series = []
    for sizes in sizes_list:
        lines = {}
        for init in ("default", "large"):
            net = Network(list(sizes), cost=CrossEntropyCost, seed=seed)
            if init == "large":
                net.large_weight_initializer()
            _, correct, _, _ = net.SGD(
                training,
                epochs,
                10,
                0.1,
                lmbda=5.0,
                evaluation_data=validation,
                monitor_evaluation_accuracy=True,
                log=None,
            )
            lines[f"{init} initialisation"] = [100.0 * c / len(validation[1]) for c in correct]
        series.append(
            Series(
                f"Validation accuracy, {'-'.join(map(str, sizes))}", "epoch", "accuracy (%)", list(range(epochs)), lines
            )
        )
    return series
