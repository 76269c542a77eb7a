"""MNIST as the book splits it: 50,000 training, 10,000 validation, 10,000 test images.

Each image becomes a row of 784 pixel intensities in [0, 1] (pixel / 255), each
label an int64 in 0..9.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from ..errors import DataFormatError
from ..labels import LabelError, one_hot
from .fetch import MNIST_FILES, Progress, fetch_mnist
from .idx import read_idx

__all__ = [
    "Dataset",
    "MNIST",
    "MNISTFormatError",
    "LabelError",
    "load_mnist",
    "load_mnist_arrays",
    "one_hot",
    "vectorized_result",
]

IMAGE_SHAPE = (28, 28)
N_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
N_CLASSES = 10

PathLike = str | os.PathLike


class MNISTFormatError(DataFormatError):
    """An MNIST file holds an IDX array of the wrong kind (shape, dtype, labels)."""


class Dataset(NamedTuple):
    """Inputs and labels.

    X : ndarray of shape (n_samples, n_features), floating, C-contiguous
        For MNIST n_features is 784: pixel intensities in [0, 1].
    y : ndarray of shape (n_samples,), int64
        Class labels.
    """

    X: np.ndarray
    y: np.ndarray


class MNIST(NamedTuple):
    """The three splits, and the SHA-256 of each file they came from (filename -> hex)."""

    training: Dataset
    validation: Dataset
    test: Dataset
    sha256: dict


def load_mnist(
    *,
    cache_dir: PathLike | None = None,
    data_dir: PathLike | None = None,
    dtype=np.float32,
    progress: Progress | None = None,
    n_validation: int = 10_000,
) -> MNIST:
    """Fetch (if needed) and load MNIST with the book's split.

    The first ``60000 - n_validation`` training images are the training set, the
    last ``n_validation`` the validation set; the 10,000 t10k images the test set.

    Parameters
    ----------
    cache_dir, data_dir, progress
        Passed to ``fetch_mnist``.
    dtype : floating dtype
        Of the X arrays.
    n_validation : int
        Between 0 and the number of training images.

    Returns
    -------
    MNIST
        training.X of shape (50000, 784), validation.X (10000, 784), test.X
        (10000, 784); the y arrays of shape (n,) int64.  training and validation
        are views of one array.
    """
    paths = fetch_mnist(cache_dir=cache_dir, data_dir=data_dir, progress=progress)
    return book_split(paths, MNIST_FILES, dtype=dtype, n_validation=n_validation)


def book_split(paths, files, *, dtype=np.float32, n_validation=10000) -> MNIST:
    """The book's split of fetched MNIST-format files: the last ``n_validation`` training
    images for validation, the rest for training, t10k for test; ``files`` gives the hashes."""
    X_full, y_full, X_test, y_test = load_mnist_arrays(paths, dtype=dtype)
    n_validation = _check_n_validation(n_validation, len(y_full))
    n_train = len(y_full) - n_validation
    return MNIST(
        training=Dataset(X_full[:n_train], y_full[:n_train]),
        validation=Dataset(X_full[n_train:], y_full[n_train:]),
        test=Dataset(X_test, y_test),
        sha256={filename: digest for filename, digest in files.values()},
    )


def load_mnist_arrays(
    paths: Mapping[str, PathLike], *, dtype=np.float32
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read and check the four MNIST files.

    Parameters
    ----------
    paths : mapping
        ``"train-images"``, ``"train-labels"``, ``"test-images"``, ``"test-labels"``
        -> path of an IDX file (raw or gzip).
    dtype : floating dtype

    Returns
    -------
    X_train_full : ndarray of shape (n_train, 784), dtype, C-contiguous, in [0, 1]
    y_train_full : ndarray of shape (n_train,), int64
    X_test : ndarray of shape (n_test, 784)
    y_test : ndarray of shape (n_test,), int64

    Raises
    ------
    MNISTFormatError
        Images not uint8 of shape (n, 28, 28), labels not uint8 of shape (n,),
        counts differing, or a label outside 0..9.
    IDXError
        A file is not valid IDX.
    """
    dtype = _float_dtype(dtype)
    missing = [k for k in ("train-images", "train-labels", "test-images", "test-labels") if k not in paths]
    if missing:
        raise KeyError(f"paths lacks {', '.join(missing)}")
    X_train, y_train = _load_pair(paths["train-images"], paths["train-labels"], dtype)
    X_test, y_test = _load_pair(paths["test-images"], paths["test-labels"], dtype)
    return X_train, y_train, X_test, y_test


def _load_pair(images_path: PathLike, labels_path: PathLike, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Read one images file and its labels file; return (X (n, 784) dtype, y (n,) int64)."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    _check_images(images, images_path)
    _check_labels(labels, labels_path)
    if len(images) != len(labels):
        raise MNISTFormatError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
    return _scale(images, dtype), labels.astype(np.int64)


def _check_images(images: np.ndarray, path: PathLike) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise MNISTFormatError(f"{path}: expected uint8 images of shape (n, 28, 28), got {images.dtype} {images.shape}")


def _check_labels(labels: np.ndarray, path: PathLike) -> None:
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise MNISTFormatError(f"{path}: expected uint8 labels of shape (n,), got {labels.dtype} {labels.shape}")
    bad = np.flatnonzero(labels >= N_CLASSES)
    if bad.size:
        i = int(bad[0])
        raise MNISTFormatError(f"{path}: {bad.size} labels outside 0..9, first at index {i}: {labels[i]}")


def _scale(images: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """uint8 (n, 28, 28) -> (n, 784) ``dtype`` in [0, 1], converted in one pass."""
    out = np.empty((len(images), N_PIXELS), dtype=dtype)
    np.divide(images.reshape(len(images), N_PIXELS), 255, out=out, dtype=dtype)
    return out


def _float_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type, got {dtype}")
    return dtype


def _check_n_validation(n_validation, n_total: int) -> int:
    n = operator.index(n_validation)
    if not 0 <= n <= n_total:
        raise ValueError(f"n_validation must lie in 0..{n_total}, got {n}")
    return n


# --------------------------------------------------------------------------- labels


def vectorized_result(j, n_classes: int = N_CLASSES, dtype=np.float64) -> np.ndarray:
    """The book's helper: a column of shape (n_classes, 1) with 1.0 at row ``j``.

    Parameters
    ----------
    j : int in 0..n_classes-1

    Returns
    -------
    ndarray of shape (n_classes, 1)
    """
    n_classes = _check_n_classes(n_classes)
    if isinstance(j, (bool, np.bool_)):
        raise LabelError(f"label must be an integer, got {j!r}")
    try:
        j = operator.index(j)
    except TypeError:
        raise LabelError(f"label must be an integer, got {j!r}") from None
    if not 0 <= j < n_classes:
        raise LabelError(f"label must lie in 0..{n_classes - 1}, got {j}")
    e = np.zeros((n_classes, 1), dtype=dtype)
    e[j, 0] = 1.0
    return e


def _check_n_classes(n_classes) -> int:
    n = operator.index(n_classes)
    if n < 1:
        raise ValueError(f"n_classes must be positive, got {n}")
    return n
