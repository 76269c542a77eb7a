"""The data forms the core accepts, turned into the one form it computes with.

One sample a row: X (m, n_in); targets Y (m, n_out) or integer labels (m,). The book's
lists of ``(x, y)`` column pairs (x (n_in, 1), y a one-hot column or an integer) are
accepted too, and zip objects and generators of them.
"""
from __future__ import annotations

import numpy as np

import math

from ..errors import InputError
from ..labels import LabelError, check_labels, one_hot

__all__ = ["as_arrays", "check_input", "check_pair", "one_hot", "LabelError"]


def check_input(X, n_in, dtype=None):
    """X as a contiguous array (m, n_in) (in ``dtype`` when given): rows of n_in values,
    images (m, c, h, w) with c*h*w = n_in (flattened), or one sample (n_in,) (one row).
    InputError naming the shape otherwise."""
    X = np.asarray(X)
    if X.ndim == 1 and X.shape[0] == n_in:
        X = X.reshape(1, n_in)
    if X.ndim < 2 or math.prod(X.shape[1:]) != n_in:
        raise InputError(f"inputs must have {n_in} values per sample, got shape {X.shape}")
    return np.ascontiguousarray(X.reshape(len(X), n_in), dtype=dtype)


def check_pair(X, labels, n_in, n_out, dtype=None):
    """``(X (m, n_in), labels (m,))`` checked: X by ``check_input``, labels integers in
    0..n_out-1, one per row of X.  InputError otherwise."""
    X = check_input(X, n_in, dtype)
    labels = check_labels(np.asarray(labels), n_out)
    if len(labels) != len(X):
        raise InputError(f"{len(X)} inputs but {len(labels)} labels")
    return X, labels


def _from_pairs(data, dtype):
    pairs = list(data)
    if not pairs:
        raise ValueError("the data set is empty")
    try:
        X = np.stack([np.asarray(x, dtype=dtype).reshape(-1) for x, _ in pairs])
        ys = [np.asarray(y) for _, y in pairs]
    except (TypeError, ValueError) as e:
        raise ValueError(f"data must be a list of (x, y) pairs or a pair of arrays (X, Y): {e}") from None
    if all(y.size == 1 and np.issubdtype(y.dtype, np.integer) for y in ys):
        return X, np.array([y.item() for y in ys])
    return X, np.stack([y.reshape(-1) for y in ys])


def as_arrays(data, n_in, n_out, dtype, *, targets="onehot"):
    """Turn training or test data into contiguous arrays.

    ``data`` is either the book's list of ``(x, y)`` pairs -- x of shape (n_in,) or
    (n_in, 1), y a one-hot column (n_out, 1), a vector (n_out,) or an integer label --
    or, the fast path, a pair of arrays ``(X, Y)`` with X of shape (m, n_in) (or images
    (m, c, h, w) with c*h*w = n_in, flattened) and Y of shape (m, n_out) (targets) or (m,)
    (integer labels).

    Returns ``(X, T)``: X of shape (m, n_in) in ``dtype``; T of shape (m, n_out) in
    ``dtype`` when ``targets="onehot"``, or integer labels (m,) when ``targets="labels"``.
    """
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray) and data[0].ndim >= 2:
        X, Y = data[0], np.asarray(data[1])
        if X.ndim > 2 and math.prod(X.shape[1:]) == n_in:
            X = X.reshape(len(X), n_in)
    else:
        X, Y = _from_pairs(data, dtype)
    X = np.ascontiguousarray(X, dtype=dtype)
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"inputs must have shape (m, {n_in}) for this network, got {X.shape}")
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"{X.shape[0]} inputs but {Y.shape[0]} targets")
    if Y.ndim == 1:
        if not np.issubdtype(Y.dtype, np.integer):
            raise ValueError(f"1-D targets must be integer labels, got {Y.dtype}")
        return (X, Y) if targets == "labels" else (X, one_hot(Y, n_out, dtype))
    if Y.ndim != 2 or Y.shape[1] != n_out:
        raise ValueError(f"targets must have shape (m, {n_out}) or (m,), got {Y.shape}")
    if targets == "labels":
        return X, np.argmax(Y, axis=1)
    return X, np.ascontiguousarray(Y, dtype=dtype)
