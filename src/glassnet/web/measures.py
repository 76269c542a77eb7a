"""What the watch page shows of a network while it learns, computed with NumPy.

    per_class_accuracy   the share of each class's examples the network gets right
    gradient_norms       the speed of learning of each layer: ||dC/db^l|| = ||delta^l||
                         averaged over examples (chapter 5), output layer included
    fixed_masks          a layer network's dropout masks for that measurement, drawn from
                         a Generator of their own (never the network's)
    filter_shape         the image shape of one hidden neuron's incoming weights
    encode_filters       the first layer's incoming weights as small images, one per
                         neuron, quantised to int8 and base64-encoded for the page

A filter message is self-describing (a convolutional first layer's kernels are sent as
(kh, kw) images, the book's network's rows as (28, 28) ones): ``shape`` is the shape
of one neuron's weights, its last two entries the image's height and width; ``count``
images follow each other in ``data``, each ``prod(shape)`` int8 values, row-major, with
value ``q`` standing for ``q / 127 * scale[k]``.
"""

from __future__ import annotations

import base64
import math

import numpy as np

from ..core.dataforms import square_side

__all__ = [
    "per_class_accuracy",
    "gradient_norms",
    "fixed_masks",
    "filter_shape",
    "encode_filters",
    "predictions",
    "MASK_SEED",
]

#: the seed of the dropout masks the speed of learning is measured with
MASK_SEED = 20240601


def predictions(network, X, forward=None, chunk=10000):
    """The predicted class (m,) of every row of X (m, n_in): argmax of ``forward(rows)``
    (default ``network.feedforward``), a chunk of rows at a time."""
    forward = forward or network.feedforward
    if len(X) == 0:
        return np.zeros(0, np.int64)
    return np.concatenate([np.argmax(forward(X[i : i + chunk]), axis=1) for i in range(0, len(X), chunk)])


def per_class_accuracy(predicted, labels, n_classes):
    """Accuracy on each class: a list of ``n_classes`` floats in [0, 1], None for a class
    with no example.

    predicted, labels : int arrays (m,).
    """
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape:
        raise ValueError(f"predicted {predicted.shape} and labels {labels.shape} differ in shape")
    seen = np.bincount(labels, minlength=n_classes)[:n_classes]
    right = np.bincount(labels[predicted == labels], minlength=n_classes)[:n_classes]
    return [float(r / s) if s else None for r, s in zip(right, seen)]


def gradient_norms(network, X, T, chunk=10, masks=None):
    """The speed of learning of every layer, first hidden layer to output: ``||dC/db^l||``,
    the length of the gradient of the mean cost over X with respect to layer l's biases
    (by BP3 that is delta^l averaged over the examples), from ``network.gradients`` without L2.

    X : (m, n_in). T : the targets as the network trains on them (``network.targets``:
        one-hot rows (m, n_out) or int labels (m,)).
    masks : dropout masks for the m rows, one per layer (``fixed_masks``); None: no dropout.
    Returns a list of floats, one per layer with biases (``models.layer_names``), in order;
    batch normalisation's beta is its layer's bias.  (On a copy of the training network:
    batch normalisation's running statistics move as in training.)
    chunk : rows per ``gradients`` call.  Small products stay on the calling thread: OpenBLAS
        hands a product of more than ~2^18 multiply-adds to its thread pool, whose threads
        then spin on the cores the training runs on (784-30-10: 500 rows at once took 1 ms
        on an idle machine, 40 ms on a busy one; 10 at a time, 2.6 ms on both).
    """
    X = np.asarray(X, dtype=network.dtype)
    if len(X) == 0:
        raise ValueError("gradient_norms needs at least one example, got none")
    biases = [i for i, name in enumerate(network.named_parameters()) if name.startswith("b")]
    params = network.parameters()
    total = [np.zeros(params[i].shape, np.float64) for i in biases]
    starts = list(range(0, len(X), chunk))
    if len(starts) > 1 and len(X) - starts[-1] < getattr(network, "min_batch", 1):
        starts.pop()  # a last chunk too small for batch normalisation joins the one before
    masks = [None] * len(network.layer_names()) if masks is None else masks  # one per layer
    for i, end in zip(starts, starts[1:] + [len(X)]):
        rows = slice(i, end)
        part = [None if m is None else m[rows] for m in masks]
        grads = network.gradients(X[rows], T[rows], scale=len(X[rows]) / len(X), masks=part)
        for t, j in zip(total, biases):
            t += grads[j]
    return [float(np.linalg.norm(t)) for t in total]


def fixed_masks(network, m, seed=MASK_SEED):
    """Dropout masks for m rows, one per layer (None where it has no dropout), as
    ``draw_masks`` makes them but from a Generator of their own: measuring with them leaves
    the network's Generator -- and so the training run -- untouched, and the same masks
    every epoch make the epochs' measurements comparable."""
    return network.draw_masks(m, rng=np.random.default_rng(seed))


def filter_shape(n_inputs, image_shape=None):
    """The shape to draw ``n_inputs`` incoming weights in: ``image_shape`` when given (its
    product must be n_inputs), else a square when n_inputs is one (784: (28, 28)), else
    one row (1, n_inputs)."""
    if image_shape is not None:
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) < 2 or math.prod(image_shape) != n_inputs:
            raise ValueError(f"image_shape {image_shape} does not hold {n_inputs} weights")
        return image_shape
    side = square_side(n_inputs)
    return (side, side) if side is not None else (1, n_inputs)


def encode_filters(W, shape, total=None):
    """The incoming weights W (k, prod(shape)) of k neurons as a JSON-able message.

    Each neuron's weights are divided by their largest magnitude (``scale``), so that each
    image uses the whole range, and rounded to int8.  ``total``: how many neurons the layer
    has (default k), so the page can say "the first k of total".
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] != math.prod(shape):
        raise ValueError(f"W must have shape (k, {math.prod(shape)}) for images of shape {tuple(shape)}, got {W.shape}")
    scale = np.abs(W).max(axis=1, initial=0.0)
    scale = np.where(np.isfinite(scale), scale, 0.0)
    safe = np.where(scale > 0, scale, 1.0)[:, None]
    q = np.rint(np.clip(np.nan_to_num(W / safe), -1, 1) * 127).astype(np.int8)
    return {
        "shape": [int(s) for s in shape],
        "count": int(W.shape[0]),
        "total": int(W.shape[0] if total is None else total),
        "scale": [float(f"{s:.4g}") for s in scale],
        "data": base64.b64encode(q.tobytes()).decode("ascii"),
    }
