"""The book's chapter-6 program ``network3.py`` (Theano) in NumPy, on glassnet's layer core.

The chapter's listings run with only the import line changed::

    import glassnet.network3 as network3
    from glassnet.network3 import Network, ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
    training_data, validation_data, test_data = network3.load_data_shared()
    mini_batch_size = 10
    net = Network([
        ConvPoolLayer(image_shape=(mini_batch_size, 1, 28, 28), filter_shape=(20, 1, 5, 5),
                      poolsize=(2, 2)),
        FullyConnectedLayer(n_in=20*12*12, n_out=100),
        SoftmaxLayer(n_in=100, n_out=10)], mini_batch_size)
    net.SGD(training_data, 60, mini_batch_size, 0.1, validation_data, test_data)

Glossary (network3 -> glassnet):

    Network(layers, mini_batch_size)    a ``core.layernet.LayerNetwork``: forward, backprop
                                        and the SGD step are there, written out in NumPy
                                        (``core.layers``) where network3 let Theano derive them
    ConvPoolLayer, FullyConnectedLayer, the layers of ``core.layernet``, same arguments and
    SoftmaxLayer                        meaning; weights stored (n_out, n_in), network3's transpose
    sigmoid, tanh, ReLU, linear         ``core.layers``' activations (each with its derivative)
    load_data_shared()                  (X, y) array pairs instead of Theano shared variables
    size(data)                          len(data[0])
    T.grad(cost, params)                ``Network.loss_and_grads`` (backpropagation by hand)

Differences from the book, all deliberate:

* ``seed=`` (default None: fresh randomness each run, like the book's unseeded NumPy) seeds
  the one Generator for initial weights and dropout masks; pass a seed to repeat a run.
* ``SGD`` writes its transcript through ``log`` (``print`` by default, as in the book;
  ``None`` for silence) and returns an ``SGDResult``.  Like the book, it visits the
  training data in order every epoch, with no shuffling, and drops a final partial
  mini-batch; accuracies count whole mini-batches only, as the book's did.
* Convolution is cross-correlation (PyTorch's convention); Theano's conv2d flips the
  filters, which only changes how a learned filter is stored.
* float32 by default, like the book's Theano runs (``dtype=np.float64`` for exactness).
* Max-pooling gives a tied block's gradient to its first maximum only (Theano gives it
  to every tied maximum); both are valid subgradients.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from .core.dataforms import square_side
from .core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
from .core.layers import linear, relu, sigmoid, tanh
from .errors import InputError
from .training import TrainingConfig, fit

ReLU = relu

__all__ = [
    "Network",
    "ConvPoolLayer",
    "FullyConnectedLayer",
    "SoftmaxLayer",
    "sigmoid",
    "tanh",
    "ReLU",
    "linear",
    "load_data_shared",
    "size",
    "expand_mnist",
    "SGDResult",
]

BOOK_FILES = ("mnist.pkl.gz", "mnist_expanded.pkl.gz")


class SGDResult(NamedTuple):
    """What ``Network.SGD`` reports at the end (the book only prints it).

    best_validation_accuracy : float in [0, 1];  best_iteration : int (mini-batches counted
    from 0);  test_accuracy : float, or None without test data;  validation_accuracies :
    list of floats, one per epoch.
    """

    best_validation_accuracy: float
    best_iteration: int
    test_accuracy: float | None
    validation_accuracies: list


def size(data):
    """The number of samples in a data set ``(X, y)`` (the book's ``size``)."""
    return len(data[0])


class Network(LayerNetwork):
    """The book's network of layers, trained by ``SGD`` on the log-likelihood cost.

    Parameters
    ----------
    layers : list of ConvPoolLayer / FullyConnectedLayer / SoftmaxLayer, SoftmaxLayer last
    mini_batch_size : int
        Kept for the book's signature; glassnet's layers take any batch size, so the
        ``mini_batch_size`` given to ``SGD`` is the one that counts.
    seed : int or None (keyword)
        Seeds the Generator for initial weights and dropout masks (None: unseeded, as the book).
    dtype : float32 (default) or float64 (keyword)
    """

    def __init__(self, layers, mini_batch_size, *, seed=None, dtype=np.float32):
        super().__init__(layers, seed=seed, dtype=dtype)
        self.mini_batch_size = _positive_int(mini_batch_size, "mini_batch_size")

    def __repr__(self):
        inner = ",\n    ".join(repr(layer) for layer in self.layers)
        return f"Network([\n    {inner}], {self.mini_batch_size})"

    # -- glassnet's files (glassnet.save / glassnet.load) --------------------------------------
    def _to_file(self):
        """``(model, metadata)`` for ``glassnet.save``: the network itself (a ``LayerNetwork``)
        and what makes it a network3 network again (the face and its mini-batch size)."""
        return self, {"face": {"class": "glassnet.network3.Network", "mini_batch_size": self.mini_batch_size}}

    @classmethod
    def _from_file(cls, model, header):
        """The network3 network a file's ``LayerNetwork`` stands for (``glassnet.load``): the
        same layers, parameters, dtype and seed, and the saved mini-batch size."""
        face = header.get("face") if isinstance(header.get("face"), dict) else {}
        net = cls.from_spec(
            model.spec(), seed=model.seed, dtype=model.dtype, mini_batch_size=face.get("mini_batch_size", 10)
        )
        net.set_params(model.params())
        return net

    def _data(self, data, name):
        """``data`` as (X, y) arrays in this network's dtype, or InputError naming ``name``."""
        try:
            X, y = data
        except (TypeError, ValueError):
            raise InputError(
                f"{name} must be a pair (X, y) as load_data_shared returns, got {type(data).__name__}"
            ) from None
        X = self.check_inputs(X)
        return X, self.check_labels(y, len(X))

    def _batch_accuracy(self, X, y, mini_batch_size):
        """The mean over whole mini-batches of their accuracy (a final partial one is left out)."""
        n = (len(X) // mini_batch_size) * mini_batch_size
        return self.score(X[:n], y[:n])

    def SGD(
        self, training_data, epochs, mini_batch_size, eta, validation_data, test_data=None, lmbda=0.0, *, log=print
    ):
        """Train by mini-batch SGD, the book's transcript going to ``log`` (None: silent).

        training_data, validation_data, test_data : pairs (X, y), X of shape (n, 784) or
            (n, 1, 28, 28), y int labels (n,) -- as ``load_data_shared`` returns them
        epochs, mini_batch_size : ints;  eta : learning rate;  lmbda : L2 strength
        Cost per mini-batch: mean log-likelihood + 0.5*lmbda*sum(w^2)/num_training_batches.
        After each epoch the validation accuracy is printed; whenever it is the best so far
        (ties included), so is the test accuracy.  Returns an ``SGDResult``.
        """
        epochs = _positive_int(epochs, "epochs")
        mbs = _positive_int(mini_batch_size, "mini_batch_size")
        X, y = self._data(training_data, "training_data")
        Xv, yv = self._data(validation_data, "validation_data")
        test = None if test_data is None else self._data(test_data, "test_data")
        num_training_batches = len(X) // mbs
        sizes = [("training_data", len(X)), ("validation_data", len(Xv))]
        for name, n in sizes + ([("test_data", len(test[0]))] if test is not None else []):
            if n < mbs:
                raise InputError(f"{name} has {n} samples, fewer than one mini-batch of {mbs}")
        say = log or (lambda line: None)
        book = _Transcript(self, say, Xv, yv, test, mbs, num_training_batches)
        # fit, glassnet's one training loop, in the data's own order (the book never reshuffles)
        # and over whole mini-batches only, as the book's loop runs
        n = num_training_batches * mbs
        fit(
            self,
            (X[:n], y[:n]),
            TrainingConfig(epochs=epochs, mini_batch_size=mbs, eta=eta, l2=lmbda, shuffle=False, keep_best=False),
            callbacks=[book.after_epoch],
            on_batch=book.on_batch,
        )
        best, best_iteration, test_accuracy, history = (
            book.best,
            book.best_iteration,
            book.test_accuracy,
            book.history,
        )
        say("Finished training network.")
        say(f"Best validation accuracy of {best:.2%} obtained at iteration {best_iteration}")
        if test_accuracy is not None:
            say(f"Corresponding test accuracy of {test_accuracy:.2%}")
        return SGDResult(best, best_iteration, test_accuracy, history)


class _Transcript:
    """The book's lines around ``fit``: mini-batch numbers, and after each epoch the validation
    accuracy, whether it is the best so far (ties count) and then the test accuracy."""

    def __init__(self, net, say, Xv, yv, test, mbs, num_training_batches):
        self.net, self.say, self.Xv, self.yv, self.test = net, say, Xv, yv, test
        self.mbs, self.per_epoch, self.epoch, self.done = mbs, num_training_batches, 0, 0
        self.best, self.best_iteration, self.test_accuracy, self.history = 0.0, 0, None, []

    def on_batch(self, done, total):
        """Say every 1000th mini-batch number reached (an engine may report runs of them)."""
        start = self.per_epoch * self.epoch
        for iteration in range(start + self.done, start + done):
            if iteration % 1000 == 0:
                self.say(f"Training mini-batch number {iteration}")
        self.done = done

    def after_epoch(self, net, record):
        self.on_batch(self.per_epoch, self.per_epoch)
        accuracy = net._batch_accuracy(self.Xv, self.yv, self.mbs)
        self.history.append(accuracy)
        self.say(f"Epoch {self.epoch}: validation accuracy {accuracy:.2%}")
        if accuracy >= self.best:
            self.say("This is the best validation accuracy to date.")
            self.best, self.best_iteration = accuracy, self.per_epoch * (self.epoch + 1) - 1
            if self.test is not None:
                self.test_accuracy = net._batch_accuracy(*self.test, self.mbs)
                self.say(f"The corresponding test accuracy is {self.test_accuracy:.2%}")
        self.epoch, self.done = self.epoch + 1, 0
        return False


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def load_data_shared(filename=None, *, cache_dir=None, data_dir=None, dtype=np.float32):
    """MNIST with the book's split, as ``[training_data, validation_data, test_data]``.

    Each is a pair (X, y): X float (n, 784) in [0, 1], y int (n,); n = 50,000, 10,000, 10,000.
    The data come from ``glassnet.datasets.load_mnist`` (downloaded once, verified, cached;
    ``cache_dir``/``data_dir`` are passed to it), never from a pickle.  ``filename`` is
    accepted so the book's calls run unchanged, and only its last part is read:

    - None or ``"../data/mnist.pkl.gz"`` (any folder): the standard split;
    - ``"../data/mnist_expanded.pkl.gz"``: the training set replaced by ``expand_mnist`` of
      it (250,000 images, shuffled once with seed 0 as the book's file was shuffled once);
    - anything else: InputError (glassnet does not load pickle files).
    """
    name = None if filename is None else os.path.basename(os.fspath(filename))
    if name is not None and name not in BOOK_FILES:
        raise InputError(
            f"load_data_shared reads MNIST through glassnet.datasets.load_mnist and knows "
            f"only the book's files {', '.join(BOOK_FILES)}; got {filename!r} "
            f"(glassnet does not load pickle files)"
        )
    from .datasets import load_mnist  # the data layer, imported only when asked for

    mnist = load_mnist(cache_dir=cache_dir, data_dir=data_dir, dtype=dtype)
    training = (mnist.training.X, mnist.training.y)
    if name == "mnist_expanded.pkl.gz":
        training = expand_mnist(training)
    return [training, (mnist.validation.X, mnist.validation.y), (mnist.test.X, mnist.test.y)]


def expand_mnist(training, *, shuffle=True, seed=0):
    """Each image and its four one-pixel shifts, zero-filled: the book's ``expand_mnist.py``.

    training : pair (X, y), X of shape (n, h*w) with square images (MNIST: (n, 784)) or
        (n, h, w); y of shape (n,)
    Returns ``(X5, y5)`` with 5n samples in X's layout: per image the original, then shifted
    down, up, right and left by one pixel (the row or column moved in is zeros), in that
    order when ``shuffle`` is False, else in an order drawn from ``seed`` (the book
    shuffles the expanded set once).  The output is written in place, one shift at a time.
    """
    X, y = training
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 2:
        side = square_side(X.shape[1])
        if side is None:
            raise InputError(f"expand_mnist needs square images, got {X.shape[1]} pixels per row of X {X.shape}")
        images = X.reshape(len(X), side, side)
    elif X.ndim == 3:
        images = X
    else:
        raise InputError(f"expand_mnist needs X of shape (n, h*w) or (n, h, w), got {X.shape}")
    if y.shape != (len(X),):
        raise InputError(f"{len(X)} images but labels of shape {y.shape}")
    n = len(images)
    order = np.random.default_rng(seed).permutation(5 * n) if shuffle else np.arange(5 * n)
    where = order.reshape(n, 5)  # where[i, k]: the row of image i, shift k
    out = np.zeros((5 * n, *images.shape[1:]), dtype=images.dtype)
    out[where[:, 0]] = images
    out[where[:, 1], 1:, :] = images[:, :-1, :]  # down: the top row is zeros
    out[where[:, 2], :-1, :] = images[:, 1:, :]  # up
    out[where[:, 3], :, 1:] = images[:, :, :-1]  # right: the left column is zeros
    out[where[:, 4], :, :-1] = images[:, :, 1:]  # left
    labels = np.empty(5 * n, dtype=y.dtype)
    labels[where] = y[:, None]
    return out.reshape(5 * n, *X.shape[1:]), labels
