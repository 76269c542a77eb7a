"""Integer labels and their one-hot form: shared by the data layer and the core.

Imports nothing of glassnet but ``errors``, so ``datasets`` can check labels without
knowing the network, and the network can turn labels into targets without knowing
where they came from.
"""

from __future__ import annotations

import numpy as np

from .errors import LabelError

__all__ = ["one_hot", "check_labels", "LabelError"]


def check_labels(labels, n_classes=10):
    """``labels`` as a 1-D integer array, each in 0..n_classes-1; LabelError otherwise.

    labels : array-like of shape (m,)
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise LabelError(f"labels must be a 1-D integer array, got {labels.dtype} of shape {labels.shape}")
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        i = int(bad[0])
        raise LabelError(f"labels must lie in 0..{n_classes - 1}, got {labels[i]} at index {i}")
    return labels


def one_hot(labels, n_classes=10, dtype=np.float32):
    """The book's ``vectorized_result`` for a whole label array.

    labels : array-like of shape (m,), integers in 0..n_classes-1
    Returns an ndarray of shape (m, n_classes): row i is 0 except a 1 in column labels[i].
    """
    labels = check_labels(labels, n_classes)
    out = np.zeros((len(labels), n_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out
