"""The book's chapter-6 table: from a shallow network to an ensemble of convolutional ones.

Library code: nothing here prints.  ``CHAPTER_6`` lists the chapter's runs with the book's
settings and published figures; ``reproduce_chapter6`` trains each row once per seed with
``glassnet.training.fit`` (through ``training.ensemble.train_ensemble``, so seeds -- or an
ensemble's members -- may train in parallel) and returns the rows with their results;
``format_markdown`` renders them beside the book's figures.

What the book's figures are: every one is the accuracy on the 10,000 MNIST test images at
the epoch of best accuracy on the 10,000 validation images (network3's ``SGD`` prints the
test accuracy whenever the validation accuracy is the best so far, ties included, and the
chapter quotes the last such figure).  The ensemble's 99.67% (9,967 of 10,000 test images)
is the majority vote of five networks of the dropout row, each near 99.6% on its own.
Here, likewise, the test data never choose anything: the best epoch is the last epoch of
highest validation accuracy (network3's ``>=``), every network (an ensemble's members too)
ends with the weights of its best validation epoch (fit's ``keep_best``, the first of equal
bests), and the table's "ours" is the seed with the best validation accuracy.  An ensemble row's seed s trains k
members with seeds s*k, ..., s*k + k - 1: seed 0's five members are the dropout row's
networks of seeds 0-4 (the same training; the ensemble keeps each at its best epoch).

How the runs follow network3: mini-batches of 10; the log-likelihood cost with L2 term
0.5 lmbda sum w^2 / (number of mini-batches); the training data in their own order every
epoch (``TrainingConfig(shuffle=False)``: network3 never reshuffles, and its expanded file
was shuffled once -- ``network3.expand_mnist`` shuffles once with seed 0); only whole
mini-batches.  Each run's randomness (initial weights, dropout masks) comes from its seed.
With a constant eta and no reshuffling nothing depends on the number of epochs, so a run
cut to E epochs is exactly the first E epochs of the full run (``compare_curves`` shows it).

Forms of a run:

* the book's: every row's epochs, all 50,000 training images (250,000 expanded).
* ``epochs=E``: every row runs E epochs (the table says "E of 60 epochs").
* ``n_train=N``: train on N images: the first N training images, or for the expanded rows
  the expansions of the first N // 5 (so an epoch costs the same in every row).
* ``quick=True`` (for tests): 1 epoch, N = 1,000, validation and test on their first 1,000
  images, ensembles of 3 members.  It checks the plumbing in seconds; its accuracies say
  nothing about the book's.

``data`` is what ``glassnet.datasets.load_mnist()`` returns (``.training``, ``.validation``,
``.test``, each with ``.X`` (n, 784) and ``.y`` (n,)).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InputError, plural
from ..network3 import expand_mnist
from ..training.ensemble import layer_builder, train_ensemble
from ..training.loop import TrainingConfig

__all__ = [
    "Row",
    "CHAPTER_6",
    "QUICK",
    "reproduce_chapter6",
    "run_row",
    "format_markdown",
    "format_curves",
    "curves",
    "compare_curves",
    "select_rows",
    "row_number",
]

#: quick=True (see the module docstring)
QUICK = dict(epochs=1, n_train=1000, n_evaluate=1000, members=3)

BOOK_TRAINING_IMAGES = 50_000


@dataclass
class Row:
    """One run of the chapter with network3 and its published accuracy.

    spec : the network, as ``LayerNetwork.spec()`` data (built with ``from_spec(spec, seed=)``)
    epochs, eta, lmbda, mini_batch_size : the book's SGD arguments
    book : the published test accuracy in percent (at the best validation epoch; for an
        ensemble, of the majority vote)
    expanded : trained on the expanded data (each image and its four one-pixel shifts)
    members : 1 for one network; k > 1 for an ensemble of k networks of this spec
    results : per seed, filled in by ``reproduce_chapter6`` (see ``run_row``)
    """

    name: str
    spec: dict
    epochs: int
    eta: float
    lmbda: float
    book: float
    expanded: bool = False
    members: int = 1
    mini_batch_size: int = 10
    results: list = field(default_factory=list)

    @property
    def book_images(self):
        """Training images per epoch in the book's run."""
        return BOOK_TRAINING_IMAGES * (5 if self.expanded else 1)

    def describe(self):
        """One line with the book's settings and figure."""
        layers = " + ".join(_layer_text(layer) for layer in self.spec["layers"])
        ensemble = f"majority vote of {self.members} networks, each " if self.members > 1 else ""
        return (
            f"{self.name}: {ensemble}{layers}; {plural(self.epochs, 'epoch')}, mini-batch {self.mini_batch_size}, "
            f"eta {self.eta:g}, lambda {self.lmbda:g}, {self.book_images:,} training images"
            f"{' (expanded)' if self.expanded else ''}; book {self.book:.2f}% on test data at the best "
            f"validation epoch"
        )


def _layer_text(layer):
    kind, act = layer["type"], layer.get("activation_fn", "")
    drop = f", dropout {layer['p_dropout']:g}" if layer.get("p_dropout") else ""
    if kind == "ConvPoolLayer":
        f, c, kh, kw = layer["filter_shape"]
        return f"ConvPool({f} {kh}x{kw} on {c}x{layer['image_shape'][1]}x{layer['image_shape'][2]}, {act})"
    if kind == "SoftmaxLayer":
        return f"Softmax({layer['n_in']}-{layer['n_out']}{drop})"
    return f"FC({layer['n_in']}-{layer['n_out']}, {act}{drop})"


# -- the book's networks, as specs --------------------------------------------------------------
def _conv(filters, channels, side, activation):
    return {
        "type": "ConvPoolLayer",
        "filter_shape": [filters, channels, 5, 5],
        "image_shape": [channels, side, side],
        "poolsize": [2, 2],
        "activation_fn": activation,
    }


def _fc(n_in, n_out, activation, p_dropout=0.0):
    return {
        "type": "FullyConnectedLayer",
        "n_in": n_in,
        "n_out": n_out,
        "activation_fn": activation,
        "p_dropout": p_dropout,
    }


def _softmax(n_in, p_dropout=0.0):
    return {"type": "SoftmaxLayer", "n_in": n_in, "n_out": 10, "p_dropout": p_dropout}


def _net(*layers):
    return {"dtype": "float32", "layers": list(layers)}


_TWO_RELU_CONVS = (_conv(20, 1, 28, "relu"), _conv(40, 20, 12, "relu"))
_DROPOUT = _net(*_TWO_RELU_CONVS, _fc(40 * 4 * 4, 1000, "relu", 0.5), _fc(1000, 1000, "relu", 0.5), _softmax(1000, 0.5))

#: Chapter 6 in the book's order.  Every figure is test accuracy at the best validation epoch
#: (the ensemble's: the majority vote of its five networks on the test data).
CHAPTER_6 = [
    # "a shallow architecture using just a single hidden layer, containing 100 hidden neurons"
    Row("shallow 784-100-10", _net(_fc(784, 100, "sigmoid"), _softmax(100)), 60, 0.1, 0.0, 97.80),
    # one convolutional-pooling layer (20 5x5 filters, 2x2 max-pooling) before the 100 neurons
    Row(
        "conv-pool 20 + FC 100",
        _net(_conv(20, 1, 28, "sigmoid"), _fc(20 * 12 * 12, 100, "sigmoid"), _softmax(100)),
        60,
        0.1,
        0.0,
        98.78,
    ),
    # a second convolutional-pooling layer, 40 filters over the first one's 20 12x12 maps
    Row(
        "two conv-pools 20, 40 + FC 100",
        _net(_conv(20, 1, 28, "sigmoid"), _conv(40, 20, 12, "sigmoid"), _fc(40 * 4 * 4, 100, "sigmoid"), _softmax(100)),
        60,
        0.1,
        0.0,
        99.06,
    ),
    # rectified linear units everywhere but the softmax, eta 0.03, L2 regularisation lmbda 0.1
    Row(
        "ReLU, eta 0.03, lambda 0.1",
        _net(*_TWO_RELU_CONVS, _fc(40 * 4 * 4, 100, "relu"), _softmax(100)),
        60,
        0.03,
        0.1,
        99.23,
    ),
    # the same network on the expanded training data (network3's expand_mnist: 250,000 images)
    Row(
        "ReLU, expanded data",
        _net(*_TWO_RELU_CONVS, _fc(40 * 4 * 4, 100, "relu"), _softmax(100)),
        60,
        0.03,
        0.1,
        99.37,
        expanded=True,
    ),
    # an extra fully connected layer of 100 ReLU neurons
    Row(
        "ReLU, expanded, extra FC 100",
        _net(*_TWO_RELU_CONVS, _fc(40 * 4 * 4, 100, "relu"), _fc(100, 100, "relu"), _softmax(100)),
        60,
        0.03,
        0.1,
        99.43,
        expanded=True,
    ),
    # two fully connected layers of 1,000 ReLU neurons, dropout 0.5 on the inputs of the fully
    # connected and softmax layers; 40 epochs; the book's call passes no lmbda (0)
    Row("dropout, 2 x FC 1000", _DROPOUT, 40, 0.03, 0.0, 99.60, expanded=True),
    # five networks of the dropout row, each trained from its own seed, voting: 9,967 correct
    Row("ensemble of 5 dropout networks (vote)", _DROPOUT, 40, 0.03, 0.0, 99.67, expanded=True, members=5),
]


def row_number(row):
    """``row``'s number in the book's table (from 1, the order of ``CHAPTER_6``); None for a
    row that is not one of the book's."""
    return next((i for i, r in enumerate(CHAPTER_6, 1) if r.name == row.name), None)


def select_rows(rows=None):
    """Copies of the chapter's rows with empty results: all, or ``rows`` -- numbers from 1 (the
    order of ``CHAPTER_6``) or names.  ValueError naming an unknown row."""
    if rows is None:
        return [replace(row, results=[]) for row in CHAPTER_6]
    by_name = {row.name: row for row in CHAPTER_6}
    chosen = []
    for key in rows:
        if isinstance(key, str) and key in by_name:
            chosen.append(by_name[key])
        elif isinstance(key, (int, np.integer)) and 1 <= key <= len(CHAPTER_6):
            chosen.append(CHAPTER_6[key - 1])
        else:
            raise ValueError(f"no chapter-6 row {key!r}; rows are numbered 1..{len(CHAPTER_6)} or named")
    return [replace(row, results=[]) for row in chosen]


# -- running the rows -----------------------------------------------------------------------
def _pair(dataset, n=None):
    X, y = (dataset.X, dataset.y) if hasattr(dataset, "X") else dataset
    return (X, y) if n is None else (X[:n], y[:n])


class _Data:
    """The data sets of one reproduction; the expanded training set is made once, when a row
    first needs it, and shared by the rows after it."""

    def __init__(self, data, quick, n_train):
        self.data = data
        self.n_train = QUICK["n_train"] if quick and n_train is None else n_train
        n_evaluate = QUICK["n_evaluate"] if quick else None
        self.validation = _pair(data.validation, n_evaluate)
        self.test = _pair(data.test, n_evaluate)
        self._expanded = None

    def training(self, row):
        """(X, y) for ``row``, cut to whole mini-batches (as network3 trains)."""
        if row.expanded:
            if self._expanded is None:
                n = None if self.n_train is None else max(1, self.n_train // 5)
                self._expanded = expand_mnist(_pair(self.data.training, n))
            X, y = self._expanded
        else:
            X, y = _pair(self.data.training, self.n_train)
        m = (len(X) // row.mini_batch_size) * row.mini_batch_size
        return X[:m], y[:m]


def _book_best(validation):
    """The best validation epoch as network3 picks it: the last of the highest (its ``>=``)."""
    return len(validation) - 1 - int(np.argmax(validation[::-1]))


def _curve_result(member, n_images, n_evaluate, best=None):
    """A network's result dict from its ``MemberResult``; ``best`` overrides the best epoch."""
    validation = [100.0 * r["validation_accuracy"] for r in member.history]
    test = [100.0 * r["accuracy"] for r in member.history]
    best = _book_best(validation) if best is None else best
    return dict(
        seed=member.seed,
        validation=validation,
        test=test,
        best_epoch=best,
        best_validation=validation[best],
        test_at_best=test[best],
        final=test[-1],
        epochs=len(test),
        n_train=n_images,
        n_evaluate=n_evaluate,
        members=1,
        seconds=member.seconds,
        engine=member.engine,
        kept_epoch=member.best_epoch,
        history=member.history,
    )


def _config(row, n_epochs):
    """The row's SGD settings; every network ends at its best validation epoch (fit's ``keep_best``)."""
    return TrainingConfig(
        epochs=n_epochs, mini_batch_size=row.mini_batch_size, eta=row.eta, l2=row.lmbda, shuffle=False, keep_best=True
    )


def _ensemble_result(row, seed, prepared, n_epochs, n_members, n_jobs, scheduler):
    """Train one ensemble (members of seeds seed*n_members + k) and measure its vote and mean;
    returns (result, the Ensemble, combining by vote as the book does)."""
    training = prepared.training(row)
    member_seeds = [seed * n_members + k for k in range(n_members)]
    ensemble, members = train_ensemble(
        layer_builder(row.spec),
        training,
        _config(row, n_epochs),
        seeds=member_seeds,
        validation=prepared.validation,
        test=prepared.test,
        n_jobs=n_jobs,
        scheduler=scheduler,
        combine="vote",
    )
    on_validation = ensemble.breakdown(*prepared.validation)
    on_test = ensemble.breakdown(*prepared.test)
    n_val, n_test = len(prepared.validation[1]), len(prepared.test[1])
    vote, mean = 100.0 * on_test["vote"] / n_test, 100.0 * on_test["mean"] / n_test
    return dict(
        seed=seed,
        member_seeds=member_seeds,
        vote=vote,
        mean=mean,
        validation_vote=100.0 * on_validation["vote"] / n_val,
        validation_mean=100.0 * on_validation["mean"] / n_val,
        test_at_best=vote,
        best_validation=100.0 * on_validation["vote"] / n_val,
        best_epoch=None,
        final=vote,
        epochs=n_epochs,
        n_train=len(training[1]),
        n_evaluate=n_test,
        members=n_members,
        member_results=[_curve_result(m, len(training[1]), n_test, best=m.best_epoch) for m in members],
        seconds=sum(m.seconds for m in members),
    ), ensemble


def _run_row(row, prepared, seeds, n_epochs, n_members, n_jobs, scheduler, on_result, on_model):
    if row.members > 1:
        for seed in seeds:
            result, ensemble = _ensemble_result(row, seed, prepared, n_epochs, n_members, n_jobs, scheduler)
            row.results.append(result)
            if on_result is not None:
                on_result(row, result)
            if on_model is not None:
                on_model(row, result, ensemble)
        return row.results
    training = prepared.training(row)
    n_evaluate = len(prepared.test[1])

    def report(member, done, total, index):
        if on_result is not None:
            on_result(row, _curve_result(member, len(training[1]), n_evaluate))

    trained, members = train_ensemble(
        layer_builder(row.spec),
        training,
        _config(row, n_epochs),
        seeds=seeds,
        validation=prepared.validation,
        test=prepared.test,
        n_jobs=n_jobs,
        scheduler=scheduler,
        on_member=report,
    )
    results = [_curve_result(m, len(training[1]), n_evaluate) for m in members]
    row.results.extend(results)
    if on_model is not None:
        for result, network in zip(results, trained.members):
            on_model(row, result, network)
    return row.results


def _check_options(seeds, epochs, n_train):
    seeds = [seeds] if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    if not seeds or min(seeds) < 0:
        raise InputError(f"give at least one seed, each >= 0, got {seeds}")
    if epochs is not None and int(epochs) < 1:
        raise InputError(f"epochs must be at least 1, got {epochs}")
    if n_train is not None and not 10 <= int(n_train) <= 250_000:
        raise InputError(f"n_train must be 10 (one mini-batch) to 250,000 (the expanded images), got {n_train}")
    return seeds


def run_row(
    row, data, seeds, *, quick=False, epochs=None, n_train=None, n_jobs=1, scheduler=None, on_result=None, on_model=None
):
    """Train ``row`` (a ``Row``) once per seed; returns its results (also appended to ``row.results``).

    A network's result: seed, validation and test (accuracy in percent after each epoch),
    best_epoch (network3's rule), best_validation, test_at_best (the book's figure), final
    (test, last epoch), epochs, n_train (training images per epoch), n_evaluate (test
    images), members (1), seconds (building and training, measured in the worker), engine,
    kept_epoch (the epoch whose weights the network ends with: fit's best validation epoch),
    history (fit's records, one per epoch).
    An ensemble's: seed, member_seeds, vote and mean (test accuracy by each rule),
    validation_vote, validation_mean, test_at_best (= vote) and best_validation
    (= validation_vote) so that tables treat it like a network, best_epoch None,
    member_results (a network's result per member, at the epoch it was kept), seconds (the
    members' sum), epochs, n_train, n_evaluate, members.
    on_model : ``on_model(row, result, model)`` for each trained network (a ``LayerNetwork``,
    at its kept epoch) or ensemble (an ``Ensemble`` combining by vote), e.g. to save it.
    """
    seeds = _check_options(seeds, epochs, n_train)
    n_epochs = epochs or (QUICK["epochs"] if quick else row.epochs)
    n_members = min(row.members, QUICK["members"]) if quick else row.members
    return _run_row(
        row, _Data(data, quick, n_train), seeds, int(n_epochs), n_members, n_jobs, scheduler, on_result, on_model
    )


def reproduce_chapter6(
    seeds,
    *,
    rows=None,
    quick=False,
    epochs=None,
    n_train=None,
    on_result=None,
    data=None,
    n_jobs=1,
    scheduler=None,
    on_model=None,
):
    """Run the chapter's rows (all, or ``rows``: numbers from 1 or names) once per seed.

    quick / epochs / n_train : the shorter forms (module docstring).  n_jobs, scheduler :
    where seeds (an ensemble row: its members) train, as in ``train_ensemble``.
    on_result : ``on_result(row, result)`` after each run; on_model : as in ``run_row``.
    data : MNIST as ``load_mnist()`` returns it (loaded if None).  Returns copies of the rows
    with ``results`` filled in (see ``run_row``); ``CHAPTER_6`` itself is left untouched.
    """
    seeds = _check_options(seeds, epochs, n_train)
    chosen = select_rows(rows)
    if data is None:
        from ..datasets import load_mnist

        data = load_mnist()
    prepared = _Data(data, quick, n_train)
    for row in chosen:
        n_epochs = epochs or (QUICK["epochs"] if quick else row.epochs)
        n_members = min(row.members, QUICK["members"]) if quick else row.members
        _run_row(row, prepared, seeds, int(n_epochs), n_members, n_jobs, scheduler, on_result, on_model)
    return chosen


# -- tables and curves ------------------------------------------------------------------------
def _form(row, res):
    """The "run at" cell: the book's settings, or how the run was shortened."""
    r = res[0]
    cuts = []
    if r["epochs"] != row.epochs:
        cuts.append(f"{r['epochs']} of {row.epochs} epochs")
    if r["n_train"] != row.book_images:
        cuts.append(f"{r['n_train']:,} of {row.book_images:,} images")
    if r["n_evaluate"] != 10_000:
        cuts.append(f"tested on {r['n_evaluate']:,} images")
    if r["members"] != row.members:
        cuts.append(f"{r['members']} of {row.members} members")
    if not cuts:
        return f"book's: {row.epochs} epochs, {row.book_images:,} images"
    return "shortened: " + ", ".join(cuts)


def _per_seed(result):
    if "vote" in result:
        tests = [m["test_at_best"] for m in result["member_results"]]
        return (
            f"{result['seed']}: vote {result['vote']:.2f}, mean {result['mean']:.2f} "
            f"(members {min(tests):.2f}-{max(tests):.2f})"
        )
    return f"{result['seed']}: {result['test_at_best']:.2f} ({result['best_epoch']})"


def format_markdown(rows):
    """A Markdown table of reproduced rows: the book's figure beside ours.

    "ours" is the test accuracy at the best validation epoch of the seed with the best
    validation accuracy (the test data choose nothing); "mean ± sd" is over the seeds; per
    seed: test accuracy at the best validation epoch (that epoch, from 0), for an ensemble
    its vote and mean; "run at" says whether the run used the book's epochs, images and
    members, or how it was shortened; seconds per run (an ensemble: all its members).
    """
    lines = [
        "| # | row | book | ours (seed of best validation) | mean ± sd | per seed: test (best val. epoch) "
        "| run at | s / run |",
        "| ---: | --- | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for i, row in enumerate(rows, 1):
        number = row_number(row) or i
        res = row.results
        if res:
            chosen = max(res, key=lambda r: r["best_validation"])
            tests = np.array([r["test_at_best"] for r in res])
            cells = [
                f"{chosen['test_at_best']:.2f}%",
                f"{tests.mean():.2f} ± {tests.std():.2f}",
                ", ".join(_per_seed(r) for r in res),
                _form(row, res),
                f"{np.mean([r['seconds'] for r in res]):.1f}",
            ]
        else:
            cells = ["-", "-", "-", f"book's: {row.epochs} epochs, {row.book_images:,} images", "-"]
        lines.append(f"| {number} | {row.name} | {row.book:.2f}% | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _rounded(percentages):
    """Percentages of at most 10,000 images are exact to two decimals: drop float noise."""
    return [round(float(p), 2) for p in percentages]


def curves(rows):
    """The per-epoch curves of every run, as JSON-able dicts: row, seed (member_seed for an
    ensemble's members), epochs, book_epochs, n_train, validation and test (percent per epoch)."""
    out = []
    for row in rows:
        for r in row.results:
            runs = r.get("member_results") or [r]
            for run in runs:
                entry = dict(
                    row=row.name,
                    seed=r["seed"],
                    epochs=run["epochs"],
                    book_epochs=row.epochs,
                    n_train=run["n_train"],
                    validation=_rounded(run["validation"]),
                    test=_rounded(run["test"]),
                )
                if run is not r:
                    entry["member_seed"] = run["seed"]
                out.append(entry)
    return out


def compare_curves(short, full):
    """How closely shortened runs track full ones, run by run (same row, seed and member).

    short, full : rows from ``reproduce_chapter6`` or lists from ``curves``.  Returns one dict
    per run found in both: row, seed, member_seed (or None), epochs (compared: the shorter
    run's), validation_gap and test_gap (the largest absolute difference over those epochs,
    in percentage points; 0.0 when the short run is the full one's beginning).
    """

    def entries(x):
        items = curves(x) if x and not isinstance(x[0], dict) else list(x)
        return {(c["row"], c["seed"], c.get("member_seed")): c for c in items}

    short, full = entries(short), entries(full)
    out = []
    for key, s in short.items():
        if key not in full:
            continue
        f, n = full[key], min(len(short[key]["test"]), len(full[key]["test"]))
        gap = lambda k, s=s, f=f, n=n: float(np.max(np.abs(np.subtract(s[k][:n], f[k][:n])))) if n else 0.0
        out.append(
            dict(
                row=key[0],
                seed=key[1],
                member_seed=key[2],
                epochs=n,
                validation_gap=gap("validation"),
                test_gap=gap("test"),
            )
        )
    return out


def format_curves(rows):
    """Per row, a Markdown table of validation / test accuracy (percent) after each epoch, one
    column pair per run (an ensemble: per member)."""
    blocks = []
    for row in rows:
        runs = curves([row])
        if not runs:
            continue
        head = ["epoch"] + [
            (f"member {c['member_seed']}" if "member_seed" in c else f"seed {c['seed']}") + " val / test" for c in runs
        ]
        lines = [f"{row.name}:", "", "| " + " | ".join(head) + " |", "|" + " ---: |" * len(head)]
        for e in range(max(c["epochs"] for c in runs)):
            cells = [f"{c['validation'][e]:.2f} / {c['test'][e]:.2f}" if e < c["epochs"] else "" for c in runs]
            lines.append(f"| {e} | " + " | ".join(cells) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
