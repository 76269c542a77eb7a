"""Chapter 1's baselines: random guessing, average darkness, SVMs; and ``glassnet baselines``."""

import io
import sys

import numpy as np
import pytest

from glassnet.book.baselines import (
    SVM_HINT,
    fit_darkness,
    fit_random,
    fit_svm,
    run_baselines,
    run_darkness,
    run_random,
    run_svm_book,
    run_svm_default,
)
from glassnet.cli import main
from glassnet.cli.baselines import format_baselines
from glassnet.datasets import Dataset


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def book_guess(image, averages):
    """The book's guess_digit: the digit whose average darkness is closest."""
    darkness = sum(float(v) for v in image)
    distances = {k: abs(v - darkness) for k, v in averages.items()}
    return min(distances, key=distances.get)


@pytest.fixture
def no_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.svm", None)


# ----------------------------------------------------------------------------- synthetic data


def test_darkness_on_tiny_data():
    X = np.array([[0, 0.1], [0.1, 0.1], [1, 1], [0.9, 1], [0.5, 0.5]], dtype=np.float32)
    y = np.array([0, 0, 2, 2, 1])
    model = fit_darkness(Dataset(X, y))
    np.testing.assert_allclose(model.averages, [0.15, 1.0, 1.95], rtol=1e-6)
    test_X = np.array([[0, 0], [0.6, 0.6], [2, 2], [0.4, 0.4]])
    assert model.predict(test_X).tolist() == [0, 1, 2, 1]
    result = run_darkness(Dataset(X, y), Dataset(test_X, np.array([0, 1, 2, 2])))
    assert (result["correct"], result["total"], result["accuracy"]) == (3, 4, 0.75)
    assert result["name"] == "average darkness" and result["seconds"] >= 0
    assert result["params"] == {"train_size": 5}


def test_darkness_never_predicts_a_missing_class():
    model = fit_darkness(Dataset(np.array([[0.0], [1.0]]), np.array([0, 3])))
    assert np.isnan(model.averages[1]) and np.isnan(model.averages[2])
    assert model.predict(np.array([[0.4], [0.6], [5.0]])).tolist() == [0, 3, 3]


def test_random_guessing_is_seeded_and_about_ten_percent():
    rng = np.random.default_rng(0)
    data = Dataset(np.zeros((20000, 3)), rng.integers(0, 10, size=20000))
    a = fit_random(data, seed=1).predict(data.X)
    assert a.tolist() == fit_random(data, seed=1).predict(data.X).tolist()
    assert a.tolist() != fit_random(data, seed=2).predict(data.X).tolist()
    assert set(np.unique(a)) == set(range(10))
    result = run_random(data, data, seed=1)
    assert abs(result["accuracy"] - 0.1) < 0.01  # sd of the mean is 0.002
    assert result["params"] == {"n_classes": 10, "seed": 1}


@pytest.mark.parametrize("y", [np.array([]), np.array([0.5, 1.5]), np.array([-1, 2]), np.zeros((2, 2), int)])
def test_bad_labels(y):
    with pytest.raises(ValueError):
        fit_darkness(Dataset(np.zeros((len(y), 2)), y))


def test_svm_on_tiny_data():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 0.1, (20, 4)), rng.normal(1, 0.1, (20, 4))]
    y = np.r_[np.zeros(20, int), np.ones(20, int)]
    model = fit_svm(Dataset(X, y), gamma="book", train_size=30)
    assert model.params["gamma"] == 0.25 and model.params["train_size"] == 30
    assert model.model.gamma == 0.25 and model.model.C == 1.0 and model.model.kernel == "rbf"
    assert model.predict(X).tolist() == y.tolist()
    with pytest.raises(ValueError, match="training size must lie in 1..40"):
        fit_svm(Dataset(X, y), train_size=41)


def test_svm_without_sklearn_is_a_one_line_import_error(no_sklearn):
    data = Dataset(np.zeros((4, 2)), np.array([0, 1, 0, 1]))
    with pytest.raises(ImportError, match=r"pip install 'glassnet\[baselines\]'"):
        fit_svm(data)
    with pytest.raises(ImportError, match="scikit-learn"):
        run_baselines(data, data, svm=True)
    assert [r["name"] for r in run_baselines(data, data, svm=False)] == ["random guessing", "average darkness"]


def test_table_format():
    results = [
        dict(
            name="random guessing",
            correct=1010,
            total=10000,
            accuracy=0.101,
            seconds=0.01,
            params=dict(n_classes=10, seed=4),
        ),
        dict(
            name="SVM, the book's defaults",
            correct=9435,
            total=10000,
            accuracy=0.9435,
            seconds=612.3,
            params=dict(kernel="rbf", C=1.0, gamma=1 / 784, train_size=50000, sklearn="1.9.1", support_vectors=14000),
        ),
        dict(
            name="SVM, today's defaults",
            correct=9792,
            total=10000,
            accuracy=0.9792,
            seconds=300,
            params=dict(
                kernel="rbf",
                C=1.0,
                gamma="scale",
                gamma_value=0.01347,
                train_size=50000,
                sklearn="1.9.1",
                support_vectors=12000,
            ),
        ),
    ]
    lines = format_baselines(results, seed=4).splitlines()
    assert lines[0] == "| method | book | ours | correct / 10000 | seconds | notes |"
    assert lines[2].startswith("| random guessing | about 10% | 10.10% | 1010 | 0.0 | ")
    assert lines[3].startswith(
        "| SVM, the book's defaults | 94.35% | 94.35% | 9435 | 612.3 | "
        "SVC(gamma=1/784, C=1), RBF kernel, trained on 50,000 images"
    )
    assert "gamma='scale' (= 0.01347)" in lines[4] and lines[4].startswith("| SVM, today's defaults | - |")
    assert "scikit-learn 1.9.1" in lines[-1] and "seed 4" in lines[-1]
    assert "| - |" in format_baselines(results[:1], dataset="fashion").splitlines()[2]


# ----------------------------------------------------------------------------- real MNIST


@pytest.mark.mnist
def test_darkness_on_mnist_is_the_books_2225(mnist):
    """Against a direct computation, digit by digit, and the book's guess on a sample."""
    result = run_darkness(mnist.training, mnist.test)
    X = mnist.training.X.astype(np.float64)
    averages = {d: X[mnist.training.y == d].sum(axis=1).mean() for d in range(10)}
    darkness = mnist.test.X.astype(np.float64).sum(axis=1)
    guesses = np.array([min(averages, key=lambda d: abs(averages[d] - t)) for t in darkness])
    assert result["correct"] == int(np.sum(guesses == mnist.test.y)) == 2225  # the book: 2,225
    model = fit_darkness(mnist.training)
    np.testing.assert_allclose(model.averages, [averages[d] for d in range(10)], rtol=1e-12)
    for i in range(0, 10000, 997):
        assert model.predict(mnist.test.X[i : i + 1])[0] == book_guess(mnist.test.X[i], averages)


def test_random_guessing_on_mnist(mnist):
    results = [run_random(mnist.training, mnist.test, seed=s) for s in (0, 1, 2)]
    for r in results:
        assert abs(r["correct"] - 1000) < 150 and r["total"] == 10000  # sd 30
    assert len({r["correct"] for r in results}) > 1
    assert run_random(mnist.training, mnist.test, seed=1)["correct"] == results[1]["correct"]


@pytest.mark.mnist
def test_svms_on_2000_mnist_images(mnist):
    pytest.importorskip("sklearn")
    test = Dataset(mnist.test.X[:1000], mnist.test.y[:1000])
    book = run_svm_book(mnist.training, test, train_size=2000)
    today = run_svm_default(mnist.training, test, train_size=2000)
    assert book["params"]["gamma"] == 1 / 784 and book["params"]["train_size"] == 2000
    assert today["params"]["gamma"] == "scale" and 0.005 < today["params"]["gamma_value"] < 0.05
    assert 0.80 < book["accuracy"] < today["accuracy"]  # 84.9% and 90.5% on these 1,000 test images


# ----------------------------------------------------------------------------- the command


@pytest.mark.mnist
def test_cli_table_without_svms(mnist, tmp_path):
    path = tmp_path / "baselines.md"
    code, out, err = run_cli(["baselines", "--no-svm", "--seed", "3", "--output", str(path)])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "| method | book | ours | correct / 10000 | seconds | notes |"
    assert lines[2].startswith("| random guessing | about 10% | ")
    assert lines[3].startswith("| average darkness | 22.25% | 22.25% | 2225 | ")
    assert len(lines) == 6 and "seed 3" in lines[-1] and "SVM" not in out
    assert path.read_text() == out
    assert "# average darkness: 2225 / 10000 (22.25%)" in err


def test_cli_table_with_small_svms(mnist):
    pytest.importorskip("sklearn")
    code, out, err = run_cli(["baselines", "--svm-train-size", "200"])
    assert code == 0, err
    rows = out.splitlines()[2:6]
    assert rows[2].startswith("| SVM, the book's defaults | 94.35% | ")
    assert rows[3].startswith("| SVM, today's defaults | - | ")
    assert all("trained on 200 images" in r for r in rows[2:])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["baselines", "--svm-train-size", "0"], "--svm-train-size: must be > 0"),
        (["baselines", "--svm-train-size", "x"], "--svm-train-size: expected an integer"),
        (["baselines", "--output", "/nonexistent-folder/b.md"], "folder /nonexistent-folder does not exist"),
        (["baselines", "--dataset", "digits"], "invalid choice: 'digits'"),
    ],
)
def test_cli_errors_are_one_line(argv, message):
    code, out, err = run_cli(argv)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_cli_svm_train_size_beyond_the_training_set(mnist):
    pytest.importorskip("sklearn")
    code, _, err = run_cli(["baselines", "--svm-train-size", "50001"])
    assert (
        code == 2
        and err.strip().splitlines()[-1]
        == "glassnet: error: --svm-train-size 50001: there are only 50000 training images"
    )


def test_cli_without_sklearn(no_sklearn):
    code, out, err = run_cli(["baselines"])
    assert code == 2 and out == "" and err == f"glassnet: error: {SVM_HINT}\n"
