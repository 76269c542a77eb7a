"""scikit-learn's 8x8 digits, split 60/40 and standardized on the training part."""

import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from glassnet.datasets import Dataset, load_digits_split  # noqa: E402


@pytest.fixture(scope="module")
def split():
    return load_digits_split()


def test_shapes_and_types(split):
    train, test = split
    assert isinstance(train, Dataset) and isinstance(test, Dataset)
    assert train.X.shape == (1078, 64) and train.y.shape == (1078,)
    assert test.X.shape == (719, 64) and test.y.shape == (719,)
    for part in split:
        assert part.X.dtype == np.float64 and part.X.flags.c_contiguous
        assert part.y.dtype == np.int64 and part.y.min() >= 0 and part.y.max() <= 9


def test_scaler_fitted_on_training_only(split):
    train, test = split
    std = train.X.std(axis=0)
    varying = std > 0
    assert varying.sum() > 50
    np.testing.assert_allclose(train.X.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(std[varying], 1, rtol=1e-9)
    # the test part is scaled with the training statistics, so it is not exactly standardized
    assert np.abs(test.X.mean(axis=0)).max() > 1e-3
    assert np.abs(test.X[:, varying].std(axis=0) - 1).max() > 1e-3


def test_same_as_manual_preparation(split):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=0.4, random_state=0)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std[std == 0] = 1
    np.testing.assert_allclose(split[0].X, (X_train - mean) / std, atol=1e-12)
    np.testing.assert_allclose(split[1].X, (X_test - mean) / std, atol=1e-12)
    np.testing.assert_array_equal(split[1].y, y_test)


def test_reproducible_and_seed_dependent(split):
    again = load_digits_split(seed=0)
    np.testing.assert_array_equal(again[0].X, split[0].X)
    np.testing.assert_array_equal(again[1].y, split[1].y)
    other = load_digits_split(seed=1)
    assert not np.array_equal(other[0].y, split[0].y)


def test_dtype_and_test_size():
    train, test = load_digits_split(test_size=0.25, dtype=np.float32)
    assert train.X.dtype == np.float32 and len(train.y) + len(test.y) == 1797
    assert len(test.y) == 450


def test_missing_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'needs scikit-learn: pip install "glassnet\[digits\]"'):
        load_digits_split()
