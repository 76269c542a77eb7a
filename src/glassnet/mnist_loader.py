"""The book's ``mnist_loader``: MNIST in the forms of chapter 1's walk-through.

Chapter 1's session at the Python prompt runs with only its imports changed::

    >>> from glassnet import mnist_loader          # the book: import mnist_loader
    >>> training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    >>> import glassnet as network                 # the book: import network
    >>> net = network.Network([784, 30, 10])
    >>> net.SGD(training_data, 30, 10, 3.0, test_data=test_data)
    Epoch 0: 9129 / 10000
    ...

The same three functions as the book's module, giving the same forms:

    load_data()           ``(training_data, validation_data, test_data)``, each a tuple
                          ``(X, y)``: X float32 (n, 784) of pixel intensities in [0, 1], y int64
                          (n,) of digits; n = 50,000, 10,000 and 10,000
    load_data_wrapper()   the same images as lists of ``(x, y)`` pairs: x a column (784, 1); y a
                          one-hot column (10, 1) in the training data, an int in the validation
                          and test data
    vectorized_result(j)  the one-hot column (10, 1) for digit j

The images come from ``glassnet.datasets.load_mnist`` (fetched once, checked by SHA-256 and
cached in ``~/.cache/glassnet``), never from the book's pickle ``../data/mnist.pkl.gz``; the
book's split is kept (the first 50,000 training images for training, the last 10,000 for
validation).  Unlike the book's Python 3 ports, ``load_data_wrapper`` returns lists, not zip
objects, so they can be measured with ``len`` and used more than once.  The arrays are
float32, as in the book's file; each x is a view of a row of one array, not a copy.
``glassnet.network2.load_data_wrapper`` is this same function.
"""

from __future__ import annotations

import numpy as np

from .errors import LabelError
from .labels import one_hot

__all__ = ["load_data", "load_data_wrapper", "vectorized_result"]


def vectorized_result(j):
    """The one-hot column (10, 1) for digit ``j``: 1.0 in row j, 0.0 elsewhere (float64)."""
    if isinstance(j, (bool, np.bool_)) or not isinstance(j, (int, np.integer)):
        raise LabelError(f"label must be an int in 0..9, got {j!r}")
    return one_hot([j], 10, np.float64).reshape(10, 1)


def _mnist(cache_dir, data_dir, dtype):
    from .datasets import load_mnist  # the data layer, imported only when asked for

    return load_mnist(cache_dir=cache_dir, data_dir=data_dir, dtype=dtype)


def load_data(*, cache_dir=None, data_dir=None, dtype=np.float32):
    """MNIST as the book's ``load_data()`` gives it: ``(training_data, validation_data,
    test_data)``, each a tuple ``(X, y)`` of X (n, 784) pixel intensities in [0, 1] (``dtype``,
    float32 as in the book's file) and y (n,) int64 digits, n = 50,000, 10,000, 10,000.
    ``cache_dir`` and ``data_dir`` go to ``glassnet.datasets.load_mnist``."""
    data = _mnist(cache_dir, data_dir, dtype)
    return ((data.training.X, data.training.y), (data.validation.X, data.validation.y), (data.test.X, data.test.y))


def load_data_wrapper(*, cache_dir=None, data_dir=None, dtype=np.float32):
    """MNIST in the forms of the book's ``load_data_wrapper()``: ``(training_data,
    validation_data, test_data)``, lists of ``(x, y)`` pairs.

    x is a (784, 1) column of pixel intensities in [0, 1] (a view of a row of
    ``load_data()``'s arrays, ``dtype``); y is a one-hot column (10, 1) of float64 in the 50,000
    training pairs and an int label in the 10,000 validation and 10,000 test pairs.
    ``cache_dir`` and ``data_dir`` go to ``glassnet.datasets.load_mnist``.
    """
    data = _mnist(cache_dir, data_dir, dtype)
    Y = one_hot(data.training.y, 10, np.float64)[:, :, None]  # (50000, 10, 1)
    training = list(zip(data.training.X[:, :, None], Y))
    validation = list(zip(data.validation.X[:, :, None], data.validation.y.tolist()))
    test = list(zip(data.test.X[:, :, None], data.test.y.tolist()))
    return training, validation, test
