"""Non-neural baselines from chapter 1 of the book: what "good" is measured against.

* random guessing: "right about ten percent of the time";
* average darkness: the mean total darkness (sum of pixel intensities) of each digit
  on the training images; an image is guessed to be the digit whose average is
  closest to its own darkness (the book: 2,225 / 10,000, i.e. 22.25%);
* a support vector machine through scikit-learn (an optional dependency):
  ``SVC(gamma=1/784, C=1.0)``, the RBF kernel with the defaults of the book's time
  (before scikit-learn 0.22, ``gamma`` defaulted to 1 / n_features; the book:
  9,435 / 10,000, i.e. 94.35%), and today's defaults ``SVC()`` (``gamma="scale"``).

Library code: nothing here prints. ``fit_*(training) -> predictor`` returns an object
with ``predict(X) -> labels`` and ``params``; ``run_*(training, test, *, seed) ->
dict(name, correct, total, accuracy, seconds, params)`` fits, predicts the test set
and times both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "AverageDarkness",
    "RandomGuess",
    "SVM_HINT",
    "SVMClassifier",
    "fit_darkness",
    "fit_random",
    "fit_svm",
    "import_svc",
    "run_baselines",
    "run_darkness",
    "run_random",
    "run_svm",
    "run_svm_book",
    "run_svm_default",
]

SVM_HINT = "the SVM baselines need scikit-learn: pip install 'glassnet[baselines]'"


@dataclass
class RandomGuess:
    """Guess a class uniformly at random with a seeded ``numpy.random.Generator``."""

    n_classes: int = 10
    seed: int = 0
    params: dict = field(default_factory=dict)

    def predict(self, X):
        rng = np.random.default_rng(self.seed)
        return rng.integers(0, self.n_classes, size=len(X))


@dataclass
class AverageDarkness:
    """The book's darkness classifier.

    averages : ndarray of shape (n_classes,)
        Mean total darkness (sum of the image's pixel intensities) of each class on
        the training set; NaN for a class with no training image (never predicted).
    """

    averages: np.ndarray
    params: dict = field(default_factory=dict)

    def predict(self, X):
        darkness = darkness_of(X)
        distance = np.abs(darkness[:, None] - self.averages[None, :])
        distance[:, np.isnan(self.averages)] = np.inf
        return np.argmin(distance, axis=1)  # a tie goes to the smaller label


@dataclass
class SVMClassifier:
    """A fitted ``sklearn.svm.SVC`` and how it was set up."""

    model: object
    params: dict = field(default_factory=dict)

    def predict(self, X):
        return np.asarray(self.model.predict(np.asarray(X, dtype=np.float64)), dtype=np.int64)


def darkness_of(X):
    """Total darkness of each row of ``X`` (n, d): the sum of its intensities, in float64."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"expected images as rows of a 2-d array, got shape {X.shape}")
    return X.sum(axis=1, dtype=np.float64)


def fit_random(training, *, seed=0, n_classes=None):
    """A random guesser over the classes 0..n_classes-1 (default: 1 + the largest training label)."""
    y = _labels(training)
    n = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if n < 1:
        raise ValueError(f"n_classes must be positive, got {n}")
    return RandomGuess(n, seed, params=dict(n_classes=n, seed=seed))


def fit_darkness(training, *, n_classes=None):
    """Average the total darkness of each class's training images (the book's baseline)."""
    y = _labels(training)
    darkness = darkness_of(training.X)
    if len(darkness) != len(y):
        raise ValueError(f"{len(darkness)} images but {len(y)} labels")
    n = int(y.max()) + 1 if n_classes is None else int(n_classes)
    counts = np.bincount(y, minlength=n)
    sums = np.bincount(y, weights=darkness, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        averages = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return AverageDarkness(averages, params=dict(train_size=len(y)))


def import_svc():
    """``sklearn.svm.SVC``, or ImportError with a one-line hint."""
    try:
        from sklearn.svm import SVC
    except ImportError:
        raise ImportError(SVM_HINT) from None
    return SVC


def fit_svm(training, *, gamma="scale", C=1.0, train_size=None, **svc_options):
    """Fit ``SVC(gamma=gamma, C=C, **svc_options)`` (RBF kernel) on the first
    ``train_size`` training images (default: all).

    ``gamma="book"`` means 1 / n_features, the default of the book's time (1/784 on MNIST).
    """
    SVC = import_svc()
    X, y = np.asarray(training.X), _labels(training)
    n = _train_size(train_size, len(y))
    if gamma == "book":
        gamma = 1.0 / X.shape[1]
    model = SVC(gamma=gamma, C=C, **svc_options)
    model.fit(np.asarray(X[:n], dtype=np.float64), y[:n])
    import sklearn

    params = dict(
        kernel=model.kernel,
        C=C,
        gamma=gamma,
        train_size=n,
        sklearn=sklearn.__version__,
        support_vectors=int(model.n_support_.sum()),
    )
    if gamma == "scale":
        params["gamma_value"] = float(model._gamma)
    return SVMClassifier(model, params=params)


# -- run: fit, predict the test set, time both -------------------------------------------------


def run_random(training, test, *, seed=0):
    """Random guessing; ``seed`` seeds the generator."""
    return _run("random guessing", lambda: fit_random(training, seed=seed), test)


def run_darkness(training, test, *, seed=0):
    """The book's average darkness baseline (deterministic: ``seed`` is unused)."""
    return _run("average darkness", lambda: fit_darkness(training), test)


def run_svm(training, test, *, seed=0, name="SVM", gamma="scale", C=1.0, train_size=None):
    """An RBF SVM (``seed`` is unused: SVC's fit is deterministic without probability estimates)."""
    return _run(name, lambda: fit_svm(training, gamma=gamma, C=C, train_size=train_size), test)


def run_svm_book(training, test, *, seed=0, train_size=None):
    """``SVC(gamma=1/784, C=1.0)``: scikit-learn's defaults when the book was written."""
    return run_svm(
        training, test, seed=seed, name="SVM, the book's defaults", gamma="book", C=1.0, train_size=train_size
    )


def run_svm_default(training, test, *, seed=0, train_size=None):
    """``SVC()``: today's defaults (``gamma="scale"``, i.e. 1 / (n_features * X.var()))."""
    return run_svm(training, test, seed=seed, name="SVM, today's defaults", gamma="scale", C=1.0, train_size=train_size)


def run_baselines(training, test, *, seed=0, svm=True, svm_train_size=None, on_result=None):
    """Run every baseline in turn (the SVMs only if ``svm``); return the list of results.

    ``on_result(result)`` is called after each one (they can take minutes).
    """
    runs = [lambda: run_random(training, test, seed=seed), lambda: run_darkness(training, test, seed=seed)]
    if svm:
        import_svc()  # fail before spending any time
        _train_size(svm_train_size, len(_labels(training)))
        runs += [
            lambda: run_svm_book(training, test, seed=seed, train_size=svm_train_size),
            lambda: run_svm_default(training, test, seed=seed, train_size=svm_train_size),
        ]
    results = []
    for run in runs:
        results.append(run())
        if on_result is not None:
            on_result(results[-1])
    return results


def _run(name, fit, test):
    start = time.perf_counter()
    predictor = fit()
    predicted = predictor.predict(test.X)
    seconds = time.perf_counter() - start
    y = _labels(test)
    correct = int(np.sum(predicted == y))
    return dict(
        name=name,
        correct=correct,
        total=len(y),
        accuracy=correct / len(y) if len(y) else 0.0,
        seconds=seconds,
        params=dict(predictor.params),
    )


def _labels(data):
    y = np.asarray(data.y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"expected a non-empty 1-d array of labels, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise ValueError("labels must be non-negative integers")
    return y.astype(np.int64, copy=False)


def _train_size(train_size, available):
    if train_size is None:
        return available
    n = int(train_size)
    if not 1 <= n <= available:
        raise ValueError(f"the SVM training size must lie in 1..{available}, got {n}")
    return n
