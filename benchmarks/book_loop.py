"""A per-example reference network, organised the way the book's ``network.py`` is.

This is the "book-style" baseline of ``bench_training.py``: every input is a column
vector of shape (n, 1), every mini-batch is a Python list of ``(x, y)`` pairs, and the
gradient of a mini-batch is built by calling ``backprop`` once per example and adding
the per-example gradients up.  Everything is float64, as in the book.  It computes the
same thing as ``glassnet.Network`` (sigmoid, quadratic cost, mini-batch SGD); only the
organisation of the arithmetic differs, which is exactly what the benchmark measures.

Written for this project; it only mirrors the book's structure, not its text.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["BookNetwork", "to_book_format", "logistic", "logistic_slope"]


def logistic(z):
    """sigma(z) = 1 / (1 + e^-z), elementwise."""
    return 1.0 / (1.0 + np.exp(-z))


def logistic_slope(z):
    """sigma'(z) = sigma(z) (1 - sigma(z)), elementwise."""
    s = logistic(z)
    return s * (1.0 - s)


def to_book_format(X, labels, *, one_hot_targets=True, n_classes=10):
    """Rows of X (m, n_in) and integer labels (m,) -> a list of ``(x, y)`` pairs.

    x is a float64 column (n_in, 1) (a view into one float64 copy of X); y is a one-hot
    column (n_classes, 1) when ``one_hot_targets`` (training data) or the integer label
    (test data), like the book's loader.
    """
    X64 = np.asarray(X, dtype=np.float64)
    n_in = X64.shape[1]
    pairs = []
    for row, label in zip(X64, np.asarray(labels)):
        if one_hot_targets:
            target = np.zeros((n_classes, 1))
            target[int(label), 0] = 1.0
        else:
            target = int(label)
        pairs.append((row.reshape(n_in, 1), target))
    return pairs


class BookNetwork:
    """Sigmoid network trained by mini-batch SGD, one example at a time inside a batch."""

    def __init__(self, sizes, seed=None):
        self.sizes = list(sizes)
        self.num_layers = len(self.sizes)
        self.rng = np.random.default_rng(seed)
        # N(0, 1) biases and weights, as in chapter 1; the input layer has no biases
        self.biases = [self.rng.standard_normal((n, 1)) for n in self.sizes[1:]]
        self.weights = [self.rng.standard_normal((n_out, n_in)) for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])]

    def feedforward(self, a):
        """Output column for one input column a (n_in, 1)."""
        for b, w in zip(self.biases, self.weights):
            a = logistic(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Train for ``epochs`` epochs; returns the seconds each epoch took (training only)."""
        seconds = []
        for j in range(epochs):
            seconds.append(self.train_epoch(training_data, mini_batch_size, eta))
            if test_data is not None:
                print(f"Epoch {j}: {self.evaluate(test_data)} / {len(test_data)}")
        return seconds

    def train_epoch(self, training_data, mini_batch_size, eta):
        """Shuffle, cut into mini-batches, take one step per mini-batch; returns seconds."""
        start = time.perf_counter()
        order = self.rng.permutation(len(training_data))
        shuffled = [training_data[i] for i in order]
        for k in range(0, len(shuffled), mini_batch_size):
            self.update_mini_batch(shuffled[k : k + mini_batch_size], eta)
        return time.perf_counter() - start

    def update_mini_batch(self, mini_batch, eta):
        """w -> w - eta/m sum_x dC_x/dw (and the same for b), summing per-example gradients."""
        sum_b = [np.zeros(b.shape) for b in self.biases]
        sum_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            grad_b, grad_w = self.backprop(x, y)
            sum_b = [s + g for s, g in zip(sum_b, grad_b)]
            sum_w = [s + g for s, g in zip(sum_w, grad_w)]
        step = eta / len(mini_batch)
        self.weights = [w - step * s for w, s in zip(self.weights, sum_w)]
        self.biases = [b - step * s for b, s in zip(self.biases, sum_b)]

    def backprop(self, x, y):
        """Gradient (dC_x/db, dC_x/dw) of the quadratic cost for one example, layer by layer."""
        grad_b = [None] * len(self.biases)
        grad_w = [None] * len(self.weights)
        # forward pass, keeping every weighted input z and activation a
        a = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, a) + b
            zs.append(z)
            a = logistic(z)
            activations.append(a)
        # output error (BP1), then propagate it backwards (BP2); BP3/BP4 give the gradients
        delta = self.cost_derivative(activations[-1], y) * logistic_slope(zs[-1])
        grad_b[-1] = delta
        grad_w[-1] = np.dot(delta, activations[-2].T)
        for back in range(2, self.num_layers):
            delta = np.dot(self.weights[-back + 1].T, delta) * logistic_slope(zs[-back])
            grad_b[-back] = delta
            grad_w[-back] = np.dot(delta, activations[-back - 1].T)
        return grad_b, grad_w

    def cost_derivative(self, output_activations, y):
        """dC_x/da for C_x = ||a - y||^2 / 2."""
        return output_activations - y

    def evaluate(self, test_data):
        """How many ``(x, label)`` pairs the network classifies correctly."""
        return sum(int(np.argmax(self.feedforward(x)) == label) for x, label in test_data)
