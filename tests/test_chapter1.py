"""Chapter 1's table (book.chapter1): its rows, its runs and its Markdown, which
``glassnet reproduce`` prints as it is."""

import io

import numpy as np
import pytest

from glassnet.book.chapter1 import CHAPTER_1, Row, format_markdown, reproduce_chapter1
from glassnet.cli import main
from glassnet.core.network import Network
from glassnet.datasets import load_dataset
from glassnet.training import TrainingConfig, fit

#: format_markdown's output for the rows below, as glassnet reproduce has always printed it
EXPECTED = (
    "| experiment | book | source | ours (best of seeds) | mean ± sd | per seed | seconds/run |\n"
    "|---|---|---|---|---|---|---|\n"
    "| 784-30-10, eta 3.0 | 95.42% | book, best of 3 | 95.47% (best epoch) | 95.39 ± 0.08 | "
    "0: 95.31, 1: 95.47 | 60 |\n"
    "| 64-30-10 digits, full batch | - | tutorial (no figure printed) | 96.80% (final epoch) | 96.66 ± 0.14 | "
    "0: 96.52, 1: 96.80 | 2 |\n"
    "| ch. 3: 784-100-10 cross-entropy, L2 | 98.04% | book ch. 3, validation | 98.12% (best validation epoch; "
    "test 98.07% there) | 98.06 ± 0.05 | 0: 98.01, 1: 98.12 | 305 |\n"
    "\n"
    "Seeds 0,1; accuracy on the 10,000 MNIST test images (on the 40% test part for the digits; on the 10,000 "
    "validation images where the row says so)."
)


def test_the_table_is_formatted_as_before():
    first, digits, chapter3 = (
        Row(**{k: v for k, v in CHAPTER_1[i].__dict__.items() if k != "results"}) for i in (0, 5, 6)
    )
    first.results = [
        dict(seed=0, best=95.31, final=95.02, test=95.31, seconds=61.2),
        dict(seed=1, best=95.47, final=95.3, test=95.47, seconds=58.9),
    ]
    digits.results = [
        dict(seed=0, best=97.0, final=96.52, test=96.52, seconds=2.4),
        dict(seed=1, best=96.9, final=96.8, test=96.8, seconds=2.6),
    ]
    chapter3.results = [
        dict(seed=0, best=98.01, final=97.9, test=97.95, seconds=300.0),
        dict(seed=1, best=98.12, final=98.0, test=98.07, seconds=310.0),
    ]
    assert format_markdown([first, digits, chapter3], [0, 1]) == EXPECTED


def test_reproduce_lists_the_rows():
    out = io.StringIO()
    assert main(["reproduce", "--list"], out=out, err=io.StringIO()) == 0
    lines = out.getvalue().splitlines()
    assert lines == [f"{i}. {row.describe()}" for i, row in enumerate(CHAPTER_1, 1)]
    assert lines[5] == "6. 64-30-10 digits, full batch (digits, 3000 epochs, mini-batch full, eta 0.25)"


def test_a_row_trains_the_books_network_once_per_seed():
    pytest.importorskip("sklearn")
    digits = next(row for row in CHAPTER_1 if row.dataset == "digits")
    seen = []
    done = reproduce_chapter1([digits], seeds=(1, 2), epochs=4, on_result=lambda row, r: seen.append(r["seed"]))
    assert seen == [1, 2] and not digits.results  # the table itself is left untouched
    for result in done[0].results:
        training, _, test, _ = load_dataset("digits", seed=result["seed"])
        net = Network([64, 30, 10], seed=result["seed"])
        history = fit(
            net,
            training,
            TrainingConfig(epochs=4, mini_batch_size=len(training.X), eta=0.25, keep_best=False),
            test=test,
        ).history
        accuracy = [100 * h["accuracy"] for h in history]
        assert result["final"] == accuracy[-1] and result["best"] == max(accuracy) and result["epochs"] == 4
        assert np.isclose(result["test"], accuracy[int(np.argmax(accuracy))])
