"""glassnet.book.chapters: the book's chapter-3 and chapter-5 runs, in their quick form on real MNIST."""

import numpy as np
import pytest

import glassnet
import glassnet.network2 as network2
from glassnet.book import chapters
from glassnet.training import TrainingConfig, fit


def test_the_books_figures_and_settings():
    ch3 = {e.book: e for e in chapters.CHAPTER_3}
    assert list(ch3) == [95.49, 96.82, 82.27, 87.1, 96.49, 97.92, 98.04]
    assert [ch3[f].evaluate for f in ch3] == ["test"] * 5 + ["validation"] * 2
    assert all(e.init == "large" and e.mini_batch_size == 10 for e in chapters.CHAPTER_3)
    assert (ch3[82.27].n_train, ch3[82.27].epochs, ch3[82.27].eta, ch3[82.27].lmbda) == (1000, 400, 0.5, 0.0)
    assert (ch3[87.1].lmbda, ch3[87.1].figure) == (0.1, "peak")
    assert (ch3[98.04].sizes, ch3[98.04].epochs, ch3[98.04].eta, ch3[98.04].lmbda) == ([784, 100, 10], 60, 0.1, 5.0)
    assert [e.book for e in chapters.CHAPTER_5] == [96.48, 96.90, 96.57, 96.53]
    assert [len(e.sizes) - 2 for e in chapters.CHAPTER_5] == [1, 2, 3, 4]
    assert all(
        (e.epochs, e.eta, e.lmbda, e.evaluate, e.init) == (30, 0.1, 5.0, "validation", "default")
        for e in chapters.CHAPTER_5
    )


def test_quick_chapter_5_reproduction(mnist):
    seen = []
    rows = chapters.reproduce_chapter(
        5, [0, 1], quick=True, data=mnist, on_result=lambda row, result: seen.append((row.name, result["seed"]))
    )
    assert len(seen) == 8 and all(r.results for r in rows)
    assert all(not e.results for e in chapters.CHAPTER_5)  # the definitions stay untouched
    for row in rows:
        for result in row.results:
            assert result["epochs"] == 1 and len(result["accuracy"]) == 1 and result["seconds"] > 0
            assert result["best"] == result["final"] == result["accuracy"][0]
    assert rows[0].results[0]["final"] > 30  # 784-30-10 learns in one epoch
    table = chapters.format_markdown(rows)
    assert "96.48%" in table and "784-30-30-30-30-10" in table and table.count("\n") == 6


def test_quick_chapter_3_reproduction_and_epoch_override(mnist):
    rows = chapters.reproduce_chapter(3, 0, quick=True, data=mnist)
    assert [r.results[0]["epochs"] for r in rows] == [1, 1, 10, 10, 1, 1, 1]
    overfit = rows[2].results[0]
    assert overfit["best"] == max(overfit["accuracy"]) and overfit["best"] > 60
    assert "82.27% (peak)" in chapters.format_markdown(rows)
    [row] = [r for r in chapters.reproduce_chapter(3, [3], quick=True, epochs=2, data=mnist) if r.book == 96.82]
    assert row.results[0]["epochs"] == 2 and len(row.results[0]["accuracy"]) == 2


def test_reproduce_chapter_refuses_bad_arguments(mnist):
    with pytest.raises(ValueError, match="chapter"):
        chapters.reproduce_chapter(4, [0], data=mnist)
    with pytest.raises(ValueError, match="seed"):
        chapters.reproduce_chapter(3, [], data=mnist)


def test_learning_speed_is_the_norm_of_the_average_bias_gradient(mnist):
    X, y = mnist.training.X[:50], mnist.training.y[:50]
    net = network2.Network([784, 30, 30, 10], seed=0, dtype=np.float64)
    speeds = chapters.learning_speed(net, X, y)
    grads = [net.backprop(x.reshape(-1, 1), network2.vectorized_result(int(j)))[0] for x, j in zip(X, y)]
    want = [np.linalg.norm(sum(g[l] for g in grads) / len(X)) for l in range(2)]
    np.testing.assert_allclose(speeds, want, rtol=1e-10)
    assert chapters.learning_speed(net.core, X, y) == speeds  # a glassnet.Network works too


def test_learning_speed_recorder_as_a_fit_callback(mnist):
    X, y = mnist.training.X[:200], mnist.training.y[:200]
    net = glassnet.Network([784, 30, 30, 10], seed=1, cost="cross-entropy", init="scaled")
    recorder = chapters.LearningSpeedRecorder(X, y)
    recorder.record(net)
    fit(net, (X, y), TrainingConfig(epochs=3, mini_batch_size=10, eta=0.1), callbacks=[recorder])
    assert len(recorder.speeds) == 4 and all(len(s) == 2 for s in recorder.speeds)
    assert recorder.speeds[-1] == chapters.learning_speed(net, X, y)


def test_the_early_layers_learn_slower(mnist):
    series = chapters.learning_speed_during_training(mnist, 0, quick=True)
    assert series.x == [0, 1, 2] and list(series.lines) == [f"hidden layer {l}" for l in (1, 2, 3, 4)]
    at_start = [line[0] for line in series.lines.values()]
    assert at_start == sorted(at_start)  # the vanishing gradient of chapter 5
    assert at_start[-1] / at_start[0] > 10  # the book: 0.003 against 0.285


def test_learning_rate_and_initialisation_series(mnist):
    rates = chapters.learning_rate_comparison(mnist, 0, quick=True)
    assert list(rates.lines) == ["eta = 0.025", "eta = 0.25", "eta = 2.5"]
    assert all(len(v) == 2 for v in rates.lines.values())
    assert rates.lines["eta = 0.25"][-1] < rates.lines["eta = 0.025"][-1]  # too small a step is slow
    inits = chapters.initialisation_comparison(mnist, 0, quick=True)
    assert [s.title for s in inits] == ["Validation accuracy, 784-30-10", "Validation accuracy, 784-100-10"]
    for s in inits:
        assert set(s.lines) == {"default initialisation", "large initialisation"}
        assert all(0 <= a <= 100 for line in s.lines.values() for a in line)
