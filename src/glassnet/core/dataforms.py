"""The data forms the core accepts, turned into the one form it computes with.

One sample a row: X (m, n_in); targets Y (m, n_out) or integer labels (m,). The book's
lists of ``(x, y)`` column pairs (x (n_in, 1), y a one-hot column or an integer) are
accepted too, and zip objects and generators of them.
"""
from __future__ import annotations

import numpy as np

from ..labels import LabelError, one_hot

__all__ = ["as_arrays", "one_hot", "LabelError"]


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
    or, the fast path, a pair of arrays ``(X, Y)`` with X of shape (m, n_in) and Y of
    shape (m, n_out) (targets) or (m,) (integer labels).

    Returns ``(X, T)``: X of shape (m, n_in) in ``dtype``; T of shape (m, n_out) in
    ``dtype`` when ``targets="onehot"``, or integer labels (m,) when ``targets="labels"``.
    """
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray) and data[0].ndim == 2:
        X, Y = data[0], np.asarray(data[1])
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
