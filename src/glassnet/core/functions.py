"""Activations and costs, each beside its derivative, in name -> object tables.

Shapes: every function works elementwise on arrays of any shape; in the network
they receive ``Z`` or ``A`` of shape (m, n_out) -- one sample a row.

The book's chapter 1-2 network uses ``sigmoid`` everywhere and the quadratic cost
C = 1/2 ||y - a||^2 (eq. 6). The other entries are the better choices of the
book's chapter 3 and of common practice.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "sigmoid",
    "sigmoid_prime",
    "exp_cap",
    "as_probabilities",
    "ACTIVATIONS",
    "COSTS",
    "Activation",
    "Cost",
    "get_activation",
    "get_cost",
]


def sigmoid(z, out=None):
    """The logistic function sigma(z) = 1 / (1 + e^-z) (book eq. 3).

    Stable: -z is capped at ln(largest float) before the exponential, so exp never
    overflows (no warning for |z| up to 1e4 or beyond, in float32 or float64) while
    every value that can be represented keeps its full relative precision.  Takes
    scalars or arrays of any shape; ``out`` may be a preallocated float array of z's
    shape (z itself included).
    """
    z = np.asarray(z)
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    if z.ndim == 0:
        return sigmoid(z.reshape(1))[0]
    out = np.negative(z, out=out)
    np.minimum(out, exp_cap(z.dtype), out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def exp_cap(dtype):
    """The largest whole x with exp(x) finite in ``dtype`` (88 for float32, 709 for float64)."""
    cap = _EXP_CAP.get(dtype)
    if cap is None:
        cap = _EXP_CAP[dtype] = float(np.floor(np.log(np.finfo(dtype).max)))
    return cap


_EXP_CAP: dict = {}


def sigmoid_prime(z):
    """sigma'(z) = sigma(z) (1 - sigma(z)) (book eq. 30's derivative)."""
    s = sigmoid(z)
    return s * (1.0 - s)


class Activation:
    """An activation f with its derivative written in terms of the output a = f(z).

    ``prime_from_output(a)`` returns f'(z) given a = f(z); for the three
    activations here that is cheaper than recomputing from z and needs no stored Z.
    """

    def __init__(self, name, f, prime_from_output):
        self.name = name
        self.f = f
        self.prime_from_output = prime_from_output

    def __call__(self, z, out=None):
        return self.f(z, out=out)

    def __reduce__(self):  # pickle by name: the table holds the functions
        return get_activation, (self.name,)

    def __repr__(self):
        return f"Activation({self.name!r})"


def _tanh(z, out=None):
    return np.tanh(z, out=out)


def _relu(z, out=None):
    return np.maximum(z, 0, out=out)


def _identity(z, out=None):
    if out is None:
        return np.array(z, copy=True)
    out[...] = z
    return out


def _softmax(z, out=None):
    """Row-wise softmax of Z, shape (m, n): e^z_j / sum_k e^z_k, shifted for stability."""
    z = np.asarray(z)
    out = np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


ACTIVATIONS = {
    "sigmoid": Activation("sigmoid", sigmoid, lambda a: a * (1.0 - a)),
    "tanh": Activation("tanh", _tanh, lambda a: 1.0 - a * a),
    "relu": Activation("relu", _relu, lambda a: (a > 0).astype(a.dtype)),
    "linear": Activation("linear", _identity, lambda a: np.ones_like(a)),
    # softmax is only used as an output layer with the log-likelihood cost, whose
    # output error a - y already includes the softmax Jacobian (book eq. 81-84).
    "softmax": Activation("softmax", _softmax, None),
}


class Cost:
    """A cost C(a, y) summed over the rows of A and Y, shape (m, n_out) each.

    ``delta(a, y, act)`` is the output error delta^L of BP1 for output activation
    ``act``: grad_a C (.) act'(z^L) in general, simplified where the book shows
    the sigma' factor cancels (cross-entropy with sigmoid, log-likelihood with softmax).
    """

    def __init__(self, name, fn, derivative, fused=()):
        self.name = name
        self.fn = fn
        self.derivative = derivative  # dC/da, the book's cost_derivative
        self.fused = frozenset(fused)  # output activations for which delta = a - y

    def __call__(self, a, y):
        return self.fn(a, y)

    def __reduce__(self):
        return get_cost, (self.name,)

    def delta(self, a, y, act):
        if act.name in self.fused:
            return a - y
        if act.prime_from_output is None:
            raise ValueError(f"cost {self.name!r} cannot be used with a {act.name} output layer")
        return self.derivative(a, y) * act.prime_from_output(a)

    def __repr__(self):
        return f"Cost({self.name!r})"


def _quadratic(a, y):
    """C = 1/2 sum ||y - a||^2 (book eq. 6, summed over samples)."""
    d = a - y
    return 0.5 * float(np.vdot(d, d))


def _cross_entropy(a, y):
    """C = -sum [y ln a + (1 - y) ln(1 - a)] (book eq. 57), with a clipped away from 0 and 1."""
    eps = np.finfo(np.asarray(a).dtype).eps if np.issubdtype(np.asarray(a).dtype, np.floating) else 1e-12
    a = np.clip(a, eps, 1 - eps)
    return float(-np.sum(y * np.log(a) + (1 - y) * np.log1p(-a)))


def _log_likelihood(a, y):
    """C = -sum ln a_y (book eq. 80) for one-hot y."""
    tiny = np.finfo(np.asarray(a).dtype).tiny
    return float(-np.sum(y * np.log(np.maximum(a, tiny))))


COSTS = {
    "quadratic": Cost("quadratic", _quadratic, lambda a, y: a - y),
    "cross-entropy": Cost(
        "cross-entropy", _cross_entropy, lambda a, y: (a - y) / np.maximum(a * (1 - a), 1e-12), fused=("sigmoid",)
    ),
    "log-likelihood": Cost(
        "log-likelihood", _log_likelihood, lambda a, y: -y / np.maximum(a, 1e-12), fused=("softmax",)
    ),
}


def _lookup(table, kind, value):
    if isinstance(value, str):
        try:
            return table[value]
        except KeyError:
            raise ValueError(f"unknown {kind} {value!r}; choose one of {', '.join(table)}") from None
    return value


def get_activation(name_or_obj) -> Activation:
    return _lookup(ACTIVATIONS, "activation", name_or_obj)


def get_cost(name_or_obj) -> Cost:
    return _lookup(COSTS, "cost", name_or_obj)


def as_probabilities(A, output_activation="sigmoid"):
    """Output activations A (m, n_out) as rows that sum to 1, in float64.

    A softmax output is a probability already; sigmoid (or other) outputs are clipped at 0
    and divided by their sum (a score, not a calibrated probability); an all-zero row
    becomes uniform.
    """
    A = np.asarray(A, dtype=np.float64)
    if output_activation == "softmax":
        return A
    A = np.clip(A, 0.0, None)
    total = A.sum(axis=-1, keepdims=True)
    return np.where(total > 0, A / np.where(total > 0, total, 1.0), 1.0 / A.shape[-1])
