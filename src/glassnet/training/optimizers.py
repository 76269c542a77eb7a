"""Optimizers: how a mini-batch's gradient moves the parameters. Each owns its state.

An optimizer never lives on the network (scikit-learn's ``update_params`` habit): the
training loop holds it, and a checkpoint saves ``state()`` and restores it with
``load_state``.  Every ``step(network, X, T, eta)`` takes a mini-batch X (m, n_in) and its
targets T (as the network trains on them) and updates the network's ``parameters()`` list;
it knows no class of network (``core.model.Trainable``): each network keeps its own L2 rule
in its ``gradients`` and ``decay``, with n = ``network.l2_count(...)``.

    SGD(l2, n)               p -> p - eta dC/dp                 (book eq. 20-21; with L2 eq. 93)
    Momentum(mu, l2, n)      v -> mu v - eta dC/dp;  p -> p + v    (book ch. 3)
    Adam(beta1, beta2, eps, l2, n)   p -> p - eta m^ / (sqrt(v^) + eps)   (Kingma and Ba, 2015)

``l2`` is the book's lambda, the L2 strength; n divides it (``network.l2_count``).  Each
optimizer says what its state looks like (``state_layout``) so that a checkpoint can check a
saved state before it is restored, and ``make_optimizer`` builds one by its name.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.model import Trainable
from ..errors import InputError

__all__ = ["SGD", "Momentum", "Adam", "make_optimizer", "OPTIMIZERS"]

#: the optimizers a run may name (``TrainingConfig.optimizer``, ``glassnet train --optimizer``)
OPTIMIZERS = ("sgd", "adam")


class SGD:
    """Plain mini-batch SGD with optional L2 weight decay: exactly ``Network.step``.

    l2 : L2 strength (the book's lambda); n : what divides it (the network's ``l2_count``).
    """

    name = "sgd"
    plain = True  # an engine may take these steps its own way (the compiled kernel does)
    momentum = 0.0

    def __init__(self, l2: float = 0.0, n: int = 1) -> None:
        self.l2, self.n = float(l2), int(n)

    def step(self, network: Trainable, X: np.ndarray, T: np.ndarray, eta: float) -> None:
        network.step(X, T, eta, self.l2, self.n)

    def state(self) -> list[np.ndarray]:
        """Arrays to checkpoint: none (plain SGD keeps no state)."""
        return []

    def state_layout(self, network: Trainable) -> list[tuple[tuple, np.dtype]]:
        """``(shape, dtype)`` of each array ``state()`` holds for this network once stepped."""
        return []

    def state_size(self, network: Trainable) -> int:
        """How many arrays ``state()`` holds for this network once stepped: none."""
        return len(self.state_layout(network))

    def load_state(self, arrays: list[np.ndarray]) -> None:
        if arrays:
            raise ValueError(f"plain SGD keeps no state, got {len(arrays)} arrays")


class Momentum(SGD):
    """Momentum-based gradient descent (book ch. 3): a velocity per parameter.

    The velocities (one per parameter array, in ``parameters()`` order, shaped like them)
    start at zero on the first step.
    """

    name = "momentum"
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

    def state_layout(self, network: Trainable) -> list[tuple[tuple, np.dtype]]:
        """One velocity per parameter array, shaped like it, in the network's dtype."""
        return [(p.shape, network.dtype) for p in network.parameters()]

    def state(self) -> list[np.ndarray]:
        return list(self.velocities or [])

    def load_state(self, arrays: list[np.ndarray]) -> None:
        self.velocities = [np.array(a) for a in arrays] or None


class Adam(SGD):
    """Adam (Kingma and Ba, 2015): a step size per parameter from running means of the
    gradient and of its square.  With g = dC/dp for the mini-batch, at step t = 1, 2, ...:

        m -> beta1 m + (1 - beta1) g                 (the mean of the gradient)
        v -> beta2 v + (1 - beta2) g^2               (the mean of its square, elementwise)
        m^ = m / (1 - beta1^t),   v^ = v / (1 - beta2^t)      (bias correction: m, v start at 0)
        p -> p - eta m^ / (sqrt(v^) + eps)

    eta is the step size (typically 1e-3, not SGD's eta).  The book's L2 keeps the meaning
    the network gives it (``l2_rule``): a layer network's L2 term 0.5 lambda sum w^2 / n is
    part of its cost and so of g (coupled, as ``torch.optim.Adam(weight_decay=lambda/n)``);
    the book's Network shrinks its weights by the book's factor first, w -> (1 - eta lambda
    / n) w (eq. 93), outside m and v (decoupled, as ``torch.optim.AdamW(weight_decay=
    lambda/n)``).  Either way Adam calls only ``network.gradients`` and ``network.decay``.

    The state: m and v (one each per parameter array, in ``parameters()`` order, shaped like
    it, in the network's dtype, zero before the first step) and the step count t.
    ``state()`` is [m_0, ..., m_{k-1}, v_0, ..., v_{k-1}, t] (t an int64 0-d array), so a
    checkpoint restores the very numbers an uninterrupted run would use next.
    """

    name = "adam"
    plain = False

    def __init__(
        self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, l2: float = 0.0, n: int = 1
    ) -> None:
        super().__init__(l2, n)
        for label, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise InputError(f"Adam's {label} must be in [0, 1), got {beta}")
        if not (eps > 0 and math.isfinite(eps)):
            raise InputError(f"Adam's eps must be a finite number > 0, got {eps}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m: list[np.ndarray] | None = None
        self.v: list[np.ndarray] | None = None
        self.t = 0

    def step(self, network: Trainable, X: np.ndarray, T: np.ndarray, eta: float) -> None:
        """One Adam step on the mini-batch X (m, n_in), T: see the class's docstring."""
        grads = network.gradients(X, T, lmbda=self.l2, n=self.n)  # dC/dp (with the L2 term, if coupled)
        network.decay(eta, self.l2, self.n)  # w -> (1 - eta lambda / n) w, if decoupled
        params = network.parameters()
        if self.m is None or self.v is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        real = network.dtype.type
        b1, b2 = real(self.beta1), real(self.beta2)
        step_size, root_c2 = self.step_factors(eta, self.t)
        step_size, root_c2, eps = real(step_size), real(root_c2), real(self.eps)
        for p, m, v, g in zip(params, self.m, self.v, grads):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            p -= step_size * m / (np.sqrt(v) / root_c2 + eps)  # = eta m^ / (sqrt(v^) + eps)

    def step_factors(self, eta: float, t: int) -> tuple[float, float]:
        """``(eta / (1 - beta1^t), sqrt(1 - beta2^t))``: the bias corrections of step t folded
        into two numbers, p -> p - eta/(1 - beta1^t) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
        (computed in double precision; the compiled engine uses the same two)."""
        return eta / (1 - self.beta1**t), math.sqrt(1 - self.beta2**t)

    def state_layout(self, network: Trainable) -> list[tuple[tuple, np.dtype]]:
        """m and v per parameter array (its shape, the network's dtype), then the step count."""
        moments = [(p.shape, network.dtype) for p in network.parameters()]
        return moments + moments + [((), np.dtype(np.int64))]

    def state(self) -> list[np.ndarray]:
        if self.m is None or self.v is None:
            return []
        return [*self.m, *self.v, np.array(self.t, np.int64)]

    def load_state(self, arrays: list[np.ndarray]) -> None:
        """Restore ``state()``'s arrays ([] for a fresh start)."""
        if not arrays:
            self.m, self.v, self.t = None, None, 0
            return
        if len(arrays) % 2 != 1:
            raise ValueError(f"Adam's state is 2k + 1 arrays (m, v, the step count), got {len(arrays)}")
        k = len(arrays) // 2
        self.m = [np.array(a) for a in arrays[:k]]
        self.v = [np.array(a) for a in arrays[k : 2 * k]]
        self.t = int(arrays[2 * k])


def make_optimizer(momentum: float = 0.0, l2: float = 0.0, n: int = 1, name: str = "sgd") -> SGD:
    """The optimizer for these settings: ``name`` "sgd" -- ``Momentum`` when momentum > 0,
    else ``SGD``; "adam" -- ``Adam`` (with its default betas and eps; momentum must be 0)."""
    if name == "adam":
        if momentum:
            raise InputError(f"Adam keeps its own momentum (beta1): give momentum 0 with Adam, got {momentum:g}")
        return Adam(l2=l2, n=n)
    if name != "sgd":
        raise InputError(f"unknown optimizer {name!r}; choose {' or '.join(OPTIMIZERS)}")
    return Momentum(momentum, l2, n) if momentum else SGD(l2, n)
