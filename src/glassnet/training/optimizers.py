"""Optimizers: how a mini-batch's gradient moves the parameters. Each owns its state.

An optimizer never lives on the network (scikit-learn's ``update_params`` habit): the
training loop holds it, and a checkpoint saves ``state()`` and restores it with
``load_state``.  Every ``step(network, X, Y, eta)`` takes X (m, n_in), Y (m, n_out).

    SGD(lmbda, n)            w -> (1 - eta lmbda / n) w - eta/m sum dC/dw    (book eq. 20, 93)
    Momentum(mu, lmbda, n)   v -> mu v - eta/m sum dC/dp;  p -> p + v       (book ch. 3)

Both also step a chapter-6 ``LayerNetwork`` (``network.step(X, y, eta, lmbda, n)`` with n the
number of training mini-batches, as network3 divides lambda).
"""
from __future__ import annotations

import numpy as np

__all__ = ["SGD", "Momentum", "make_optimizer"]


class SGD:
    """Plain mini-batch SGD with optional L2 weight decay: exactly ``Network.step``.

    lmbda : L2 strength (the book's lambda); n : the training-set size.
    """

    plain = True            # an engine may take these steps its own way (the compiled kernel does)
    momentum = 0.0

    def __init__(self, lmbda=0.0, n=1):
        self.lmbda, self.n = float(lmbda), int(n)

    def step(self, network, X, Y, eta):
        network.step(X, Y, eta, self.lmbda, self.n)

    def state(self):
        """Arrays to checkpoint: none (plain SGD keeps no state)."""
        return []

    def load_state(self, arrays):
        if arrays:
            raise ValueError(f"plain SGD keeps no state, got {len(arrays)} arrays")


class Momentum(SGD):
    """Momentum-based gradient descent (book ch. 3): a velocity per parameter.

    The velocities (one per weight matrix, then one per bias vector, shaped like them)
    start at zero on the first step.
    """

    plain = False

    def __init__(self, mu, lmbda=0.0, n=1):
        super().__init__(lmbda, n)
        if not 0 <= mu < 1:
            raise ValueError(f"momentum must be in [0, 1), got {mu}")
        self.momentum = float(mu)
        self.velocities = None

    def step(self, network, X, Y, eta):
        if hasattr(network, "layers"):               # a LayerNetwork: its gradient holds the L2 term
            self._layered_step(network, X, Y, eta)
            return
        nabla_b, nabla_w = network.backprop(X, Y, scale=eta / len(X))   # already times eta/m
        params = network.weights + network.biases
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        if self.lmbda:
            decay = network.dtype.type(1 - eta * self.lmbda / self.n)
            for w in network.weights:
                w *= decay
        mu = network.dtype.type(self.momentum)
        for p, v, g in zip(params, self.velocities, nabla_w + nabla_b):
            v *= mu
            v -= g
            p += v

    def _layered_step(self, network, X, y, eta):
        """v -> mu v - eta dC/dp; p -> p + v, with dC/dp from ``LayerNetwork.backprop``
        (mean over the mini-batch, L2 term lmbda w / n included)."""
        grads = network.backprop(X, y, lmbda=self.lmbda, n_batches=self.n)
        params = network.params()
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        mu, eta = network.dtype.type(self.momentum), network.dtype.type(eta)
        for p, v, g in zip(params, self.velocities, grads):
            v *= mu
            v -= eta * g
            p += v

    def state(self):
        return list(self.velocities or [])

    def load_state(self, arrays):
        self.velocities = [np.array(a) for a in arrays] or None


def make_optimizer(momentum=0.0, lmbda=0.0, n=1):
    """The optimizer for these settings: ``Momentum`` when momentum > 0, else ``SGD``."""
    return Momentum(momentum, lmbda, n) if momentum else SGD(lmbda, n)
