"""The data forms the core accepts, turned into the one form it computes with.

One sample a row: X (m, n_in); targets Y (m, n_out) or integer labels (m,). The book's
lists of ``(x, y)`` column pairs (x (n_in, 1), y a one-hot column or an integer) are
accepted too, and zip objects and generators of them.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..labels import LabelError, check_labels, one_hot

__all__ = [
    "as_arrays",
    "from_pairs",
    "check_input",
    "check_pair",
    "check_labels_for",
    "one_hot",
    "square_side",
    "LabelError",
]


def square_side(n_values):
    """The side of a square image of ``n_values`` pixels (784 -> 28, 64 -> 8), or None when
    n_values is not a square."""
    side = math.isqrt(int(n_values))
    return side if side * side == n_values else None


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


def check_labels_for(labels, n_out, m):
    """``labels`` as m integers in 0..n_out-1 (one per input); InputError otherwise."""
    labels = check_labels(np.asarray(labels), n_out)
    if len(labels) != m:
        raise InputError(f"{m} inputs but {len(labels)} labels")
    return labels


def check_pair(X, labels, n_in, n_out, dtype=None):
    """``(X (m, n_in), labels (m,))`` checked: X by ``check_input``, labels integers in
    0..n_out-1, one per row of X.  InputError otherwise."""
    X = check_input(X, n_in, dtype)
    return X, check_labels_for(labels, n_out, len(X))


def _is_label(y):
    """An integer label: a Python or NumPy integer, or a one-element integer array."""
    if isinstance(y, (bool, np.bool_)):
        return False
    return isinstance(y, (int, np.integer)) or (isinstance(y, np.ndarray) and y.size == 1 and y.dtype.kind in "iu")


def from_pairs(data, n_in, dtype, what="the data"):
    """``(X (m, n_in), labels (m,) int64 or targets (m, n_out))`` from the book's iterable of
    ``(x, y)`` pairs: x any shape of n_in values ((n_in, 1) columns in the book), y an integer
    label or a target vector (a one-hot column in the book).  InputError naming ``what``."""
    try:
        pairs = list(data)
        if not pairs:
            raise InputError(f"{what} is empty")
        ys = [y for _, y in pairs]
        X = np.empty((len(pairs), n_in), dtype)
        for i, (x, _) in enumerate(pairs):  # row by row: 2-3x faster than np.stack for 50,000 columns
            x = np.asarray(x)
            if x.size != n_in:
                raise InputError(f"{what}: input {i} has shape {x.shape}, the network takes {n_in} values")
            X[i] = x.reshape(-1)
        ints = [_is_label(y) for y in ys]
        if all(ints):
            return X, np.array([int(np.asarray(y).reshape(-1)[0]) for y in ys], dtype=np.int64)
        if any(ints):
            raise InputError(
                f"{what} mixes int labels (e.g. example {ints.index(True)}) with label "
                f"vectors (e.g. example {ints.index(False)})"
            )
        return X, np.stack([np.asarray(y, dtype=float).reshape(-1) for y in ys])
    except InputError:
        raise
    except (TypeError, ValueError) as e:
        raise InputError(
            f"{what} must be the book's (x, y) pairs or glassnet's arrays (X (m, {n_in}), y (m,)): {e}"
        ) from None


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
        X, Y = from_pairs(data, n_in, dtype)
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
