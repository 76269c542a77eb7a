"""Optimizers: how a mini-batch's gradient moves the parameters. Each owns its state.

An optimizer never lives on the network (scikit-learn's ``update_params`` habit): the
training loop holds it, and a checkpoint saves ``state()`` and restores it with
``load_state``.  Every ``step(network, X, T, eta)`` takes a mini-batch X (m, n_in) and its
targets T (as the network trains on them) and updates the network's ``parameters()`` list;
it knows no class of network (``core.model.Trainable``): each network keeps its own L2 rule
in its ``gradients`` and ``decay``, with n = ``network.l2_count(...)``.

    SGD(l2, n)               p -> p - eta dC/dp                 (book eq. 20-21; with L2 eq. 93)
    Momentum(mu, l2, n)      v -> mu v - eta dC/dp;  p -> p + v    (book ch. 3)

``l2`` is the book's lambda, the L2 strength; n divides it (``network.l2_count``).
"""

from __future__ import annotations

import numpy as np

from ..core.model import Trainable

__all__ = ["SGD", "Momentum", "make_optimizer"]


class SGD:
    """Plain mini-batch SGD with optional L2 weight decay: exactly ``Network.step``.

    l2 : L2 strength (the book's lambda); n : what divides it (the network's ``l2_count``).
    """

    plain = True  # an engine may take these steps its own way (the compiled kernel does)
    momentum = 0.0

    def __init__(self, l2: float = 0.0, n: int = 1) -> None:
        self.l2, self.n = float(l2), int(n)

    def step(self, network: Trainable, X: np.ndarray, T: np.ndarray, eta: float) -> None:
        network.step(X, T, eta, self.l2, self.n)

    def state(self) -> list[np.ndarray]:
        """Arrays to checkpoint: none (plain SGD keeps no state)."""
        return []

    def state_size(self, network: Trainable) -> int:
        """How many arrays ``state()`` holds for this network once stepped: none."""
        return 0

    def load_state(self, arrays: list[np.ndarray]) -> None:
        if arrays:
            raise ValueError(f"plain SGD keeps no state, got {len(arrays)} arrays")


class Momentum(SGD):
    """Momentum-based gradient descent (book ch. 3): a velocity per parameter.

    The velocities (one per parameter array, in ``parameters()`` order, shaped like them)
    start at zero on the first step.
    """

    plain = False

    def __init__(self, mu: float, l2: float = 0.0, n: int = 1) -> None:
        super().__init__(l2, n)
        if not 0 <= mu < 1:
            raise ValueError(f"momentum must be in [0, 1), got {mu}")
        self.momentum = float(mu)
        self.velocities: list[np.ndarray] | None = None

    def step(self, network: Trainable, X: np.ndarray, T: np.ndarray, eta: float) -> None:
        """v -> mu v - eta dC/dp; p -> p + v for every parameter p (velocities from zero)."""
        grads = network.gradients(X, T, scale=eta, lmbda=self.l2, n=self.n)  # eta dC/dp
        network.decay(eta, self.l2, self.n)
        params = network.parameters()
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        mu = network.dtype.type(self.momentum)
        for p, v, g in zip(params, self.velocities, grads):
            v *= mu
            v -= g
            p += v

    def state_size(self, network: Trainable) -> int:
        """One velocity per parameter array."""
        return len(network.parameters())

    def state(self) -> list[np.ndarray]:
        return list(self.velocities or [])

    def load_state(self, arrays: list[np.ndarray]) -> None:
        self.velocities = [np.array(a) for a in arrays] or None


def make_optimizer(momentum: float = 0.0, l2: float = 0.0, n: int = 1) -> SGD:
    """The optimizer for these settings: ``Momentum`` when momentum > 0, else ``SGD``."""
    return Momentum(momentum, l2, n) if momentum else SGD(l2, n)
