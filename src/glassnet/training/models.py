"""What the training layer needs to know about the two kinds of network, in one place.

    Network         chapters 1-3 (``core.network``): sizes, weights + biases, one-hot targets,
                    L2 decay (1 - eta lmbda / n) with n the number of training examples
    LayerNetwork    chapter 6 (``core.layernet``): layers, params(), integer labels, L2 term
                    0.5 lmbda sum w^2 / n with n the number of training mini-batches (network3)
"""
from __future__ import annotations

import numpy as np

from ..core.dataforms import as_arrays
from ..core.layernet import LayerNetwork
from ..errors import InputError

__all__ = ["is_layered", "parameters", "weight_arrays", "training_arrays", "evaluation_arrays", "l2_count"]


def is_layered(network):
    """Whether ``network`` is a chapter-6 layer network (else the book's Network)."""
    return isinstance(network, LayerNetwork)


def parameters(network):
    """Every parameter array of ``network`` (the arrays themselves), in a fixed order."""
    return network.params() if is_layered(network) else network.weights + network.biases


def weight_arrays(network):
    """The weight arrays (what L2 regularises and what must stay finite)."""
    return [layer.w for layer in network.layers] if is_layered(network) else network.weights


def _pair(data):
    if data is None:
        return None
    return (data.X, data.y) if hasattr(data, "X") else data


def _layer_arrays(network, data):
    X, y = (np.asarray(a) for a in data)
    n_in = network.layers[0].n_in
    if X.ndim < 2 or int(np.prod(X.shape[1:])) != n_in:
        raise InputError(f"inputs must have {n_in} values per sample for this network, got shape {X.shape}")
    X = np.ascontiguousarray(X.reshape(len(X), n_in), dtype=network.dtype)
    if y.ndim == 2:
        y = np.argmax(y, axis=1)
    if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) != len(X):
        raise InputError(f"labels must be {len(X)} integers, got {y.dtype} of shape {y.shape}")
    return X, y


def training_arrays(network, data):
    """``(X, T)`` to train on: X (n, n_in) in the network's dtype; T one-hot (n, n_out) for a
    Network, integer labels (n,) for a LayerNetwork (which takes its targets that way)."""
    data = _pair(data)
    if is_layered(network):
        return _layer_arrays(network, data)
    return as_arrays(data, network.sizes[0], network.sizes[-1], network.dtype, targets="onehot")


def evaluation_arrays(network, data):
    """``(X, labels)`` to measure on, or None for no data."""
    data = _pair(data)
    if data is None:
        return None
    if is_layered(network):
        return _layer_arrays(network, data)
    return as_arrays(data, network.sizes[0], network.sizes[-1], network.dtype, targets="labels")


def l2_count(network, n_examples, mini_batch_size):
    """The n that divides lambda in the L2 term: training examples for a Network (book ch. 3),
    training mini-batches for a LayerNetwork (network3's num_training_batches)."""
    return max(1, n_examples // mini_batch_size) if is_layered(network) else n_examples
