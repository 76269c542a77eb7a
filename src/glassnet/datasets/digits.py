"""scikit-learn's 8x8 digits (1,797 images, shipped with scikit-learn: no download).

Prepared as in the tutorial -- standardized features, a plain 60/40 split -- except
that the scaler is fitted on the training part only, so no statistic of the test
images leaks into training.
"""

from __future__ import annotations

import numpy as np

from .mnist import Dataset

__all__ = ["load_digits_split", "digits_test_images", "IMAGE_SHAPE"]

#: (height, width) of one image: 8 x 8 pixels, a row of 64 features
IMAGE_SHAPE = (8, 8)

_NEEDS_SKLEARN = 'the digits dataset needs scikit-learn: pip install "glassnet[digits]"'


def load_digits_split(*, seed: int = 0, test_size: float = 0.4, dtype=np.float64) -> tuple[Dataset, Dataset]:
    """Load the 8x8 digits, split them and standardize them.

    Parameters
    ----------
    seed : int
        ``random_state`` of the (unstratified) train/test split.
    test_size : float in (0, 1)
        Fraction of the 1,797 images put into the test set.
    dtype : floating dtype
        Of the X arrays.

    Returns
    -------
    (training, test) : Dataset, Dataset
        X of shape (n, 64), C-contiguous, each column standardized with the
        training part's mean and standard deviation; y of shape (n,), int64.
        With test_size=0.4: 1078 training rows and 719 test rows.

    Raises
    ------
    ImportError
        scikit-learn is not installed.
    """
    try:
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise ImportError(_NEEDS_SKLEARN) from None
    X_train, X_test, y_train, y_test = _split(seed, test_size)
    scaler = StandardScaler().fit(X_train)
    return _dataset(scaler.transform(X_train), y_train, dtype), _dataset(scaler.transform(X_test), y_test, dtype)


def _split(seed, test_size):
    """The raw split (X_train, X_test, y_train, y_test): pixels 0..16, unscaled."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise ImportError(_NEEDS_SKLEARN) from None
    digits = load_digits()
    return train_test_split(digits.data, digits.target, test_size=test_size, random_state=seed)


def digits_test_images(seed: int, labels=None, test_size: float = 0.4):
    """The test part's raw 8x8 pixels (0..16) as (n, 64), row for row like
    ``load_digits_split(seed=seed)``'s test set: what a person can read, where the network
    sees standardized pixels.  None when ``labels`` are given and do not line up."""
    _, images, _, y = _split(seed, test_size)
    if labels is not None and (len(y) != len(labels) or not (y == np.asarray(labels)).all()):
        return None
    return images


def _dataset(X: np.ndarray, y: np.ndarray, dtype) -> Dataset:
    return Dataset(np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(y, dtype=np.int64))
