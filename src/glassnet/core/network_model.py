"""What the book's ``Network`` answers beyond the book: the model protocol (``core.model``).

``NetworkModel`` is a mixin of ``core.network.Network``, written in terms of its ``sizes``,
``weights`` (sizes[l+1], sizes[l]) and ``biases`` (sizes[l+1],), its activations and cost,
so that the book's class itself keeps only the book's methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..errors import InputError
from .dataforms import check_input, check_pair, one_hot
from .functions import as_probabilities
from .model import check_name, check_seed

__all__ = ["NetworkModel"]


class NetworkModel:
    """The model protocol for the book's network (see ``core.model``)."""

    # what the book's Network holds (``core.network``): the mixin is written in its terms
    sizes: list
    num_layers: int
    weights: list
    biases: list
    dtype: Any
    seed: Any
    cost: Any
    activation: Any
    output_activation: Any
    init: str
    rng: np.random.Generator
    feedforward: Callable
    activations: Callable
    backprop: Callable

    kind = "network"
    format_version = 1  # of its header (``header``, ``from_header``)
    targets = "onehot"  # it trains on one-hot target rows Y (m, n_out)
    l2_rule = "decay"  # L2 as the book's weight decay (``decay``), outside the gradient

    @property
    def n_in(self):
        return self.sizes[0]

    @property
    def n_out(self):
        return self.sizes[-1]

    @property
    def input_shape(self):
        return (self.sizes[0],)

    @property
    def members(self):
        return [self]

    def parameters(self):
        """[w0, b0, w1, b1, ...]: every parameter array (the arrays themselves), layer by layer."""
        return [p for w, b in zip(self.weights, self.biases) for p in (w, b)]

    def named_parameters(self):
        """``{"w0": weights[0], "b0": biases[0], ...}`` in ``parameters()`` order."""
        return {
            f"{k}{l}": p for l, (w, b) in enumerate(zip(self.weights, self.biases)) for k, p in (("w", w), ("b", b))
        }

    def header(self):
        """The network as JSON-able data: sizes, cost, activations, init, dtype, seed."""
        return {
            "format_version": self.format_version,
            "dtype": self.dtype.name,
            "seed": self.seed,
            "sizes": list(self.sizes),
            "cost": self.cost.name,
            "activation": self.activation.name,
            "output_activation": self.output_activation.name,
            "init": self.init,
        }

    @staticmethod
    def parameter_shapes(header):
        """``{"w0": (sizes[1], sizes[0]), "b0": (sizes[1],), ...}`` from a header, nothing allocated."""
        sizes = header.get("sizes")
        if not (
            isinstance(sizes, list)
            and len(sizes) >= 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)
        ):
            raise ValueError(f"header sizes must be a list of positive integers, got {str(sizes)[:80]}")
        return {
            f"{k}{l}": shape
            for l in range(len(sizes) - 1)
            for k, shape in (("w", (sizes[l + 1], sizes[l])), ("b", (sizes[l + 1],)))
        }

    @classmethod
    def from_header(cls, header, arrays):
        """The network ``header`` describes holding ``arrays`` (checked by ``model_from_header``)."""
        names = {
            key: check_name(header, key, default)
            for key, default in (
                ("cost", "quadratic"),
                ("activation", "sigmoid"),
                ("init", "standard"),
                ("dtype", "float32"),
            )
        }
        output = header.get("output_activation")
        if output is not None and not isinstance(output, str):
            raise ValueError("header field 'output_activation' must be a name")
        L = len(header["sizes"]) - 1
        return cls(
            header["sizes"],
            weights=[arrays[f"w{l}"] for l in range(L)],
            biases=[arrays[f"b{l}"] for l in range(L)],
            dtype=names["dtype"],
            cost=names["cost"],
            activation=names["activation"],
            output_activation=output,
            init=names["init"],
            seed=check_seed(header),
        )

    def describe(self, compact=False):
        """The architecture in one line: "784-30-10" (compact or not)."""
        return "-".join(map(str, self.sizes))

    def layer_names(self):
        """["hidden 1", ..., "output"]: a name per layer of weights."""
        return [f"hidden {l}" for l in range(1, self.num_layers - 1)] + ["output"]

    def summary(self):
        """JSON-able facts for pages: sizes, activations, cost, and each layer's name, output
        shape and activation (input excluded, output last)."""
        layers = [
            {"name": f"hidden layer {l}", "shape": [n], "activation": self.activation.name}
            for l, n in enumerate(self.sizes[1:-1], start=1)
        ]
        layers.append({"name": "output", "shape": [self.n_out], "activation": self.output_activation.name})
        return {
            "sizes": list(self.sizes),
            "activation": self.activation.name,
            "output_activation": self.output_activation.name,
            "cost": self.cost.name,
            "layers": layers,
        }

    def details(self):
        """Lines for people beyond ``describe()``: the cost, activations and initialisation."""
        return [
            f"cost {self.cost.name}, activation {self.activation.name}, output "
            f"{self.output_activation.name}, init {self.init}"
        ]

    def layer_specs(self):
        """Each layer of weights as data for exporters: ``{"kind": "dense", "w", "b",
        "activation"}`` (the arrays themselves), input side first."""
        acts = [self.activation] * (len(self.weights) - 1) + [self.output_activation]
        return [
            {"kind": "dense", "w": w, "b": b, "activation": a.name} for w, b, a in zip(self.weights, self.biases, acts)
        ]

    def first_layer_weights(self):
        """weights[0] (sizes[1], n_in): row j is hidden neuron j's incoming weights."""
        return self.weights[0]

    def layer_outputs(self, X):
        """[a^2, ..., a^L] for X (m, n_in): every layer's activations but the input's."""
        return self.activations(check_input(X, self.n_in, self.dtype))[1:]

    def score(self, X, labels):
        """Accuracy: the fraction of the rows of X (m, n_in) whose predicted class equals labels (m,)."""
        X, labels = check_pair(X, labels, self.n_in, self.n_out, self.dtype)
        return self.measure(X, labels)[1] / max(len(labels), 1)

    def probabilities(self, X):
        """The output as probabilities (m, n_out): a softmax output as it is, a sigmoid
        output divided by its row sum (``functions.as_probabilities``)."""
        return as_probabilities(self.feedforward(check_input(X, self.n_in, self.dtype)), self.output_activation.name)

    def input_gradient(self, x, k=None):
        """``(d a^L_k / dx, k)`` for one input x (n_in,): backprop (BP1, BP2) carried down to
        the input, for output neuron k (None: the most active one)."""
        x = np.asarray(x, self.dtype).reshape(1, -1)
        a = [layer[0] for layer in self.activations(x)]  # [x, a^1, ..., a^L]
        out = a[-1]
        k = _output_index(k, out)
        if self.output_activation.name == "softmax":  # BP1, softmax outputs
            delta = -out[k] * out
            delta[k] += out[k]
        else:  # BP1, elementwise f
            delta = np.zeros_like(out)
            delta[k] = self.output_activation.prime_from_output(out[k : k + 1])[0]
        for l in range(len(self.weights) - 1, 0, -1):  # BP2, down to layer 1
            delta = (delta @ self.weights[l]) * self.activation.prime_from_output(a[l])
        return delta @ self.weights[0], k  # (w^1)^T delta^1

    def probability_gradient(self, x, k):
        """d p_k / dx (n_in,) of ``probabilities``: a softmax output's is ``input_gradient``;
        a sigmoid output's p = a / sum(a) by the quotient rule."""
        if self.output_activation.name == "softmax":
            return self.input_gradient(x, k)[0]
        a = self.feedforward(np.asarray(x, self.dtype).reshape(1, -1))[0]
        total = a.sum()
        grads = np.array([self.input_gradient(x, j)[0] for j in range(len(a))])
        return grads[k] / total - a[k] / total**2 * grads.sum(axis=0)

    # -- beyond the book, in terms of its own methods ------------------------------------
    def _check_parameters(self):
        if len(self.weights) != self.num_layers - 1 or len(self.biases) != self.num_layers - 1:
            raise ValueError(
                f"sizes {self.sizes} need {self.num_layers - 1} weight matrices and bias "
                f"vectors, got {len(self.weights)} and {len(self.biases)}"
            )
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            want = (self.sizes[l + 1], self.sizes[l])
            if w.shape != want or b.shape != want[:1]:
                raise ValueError(
                    f"layer {l}: weights must have shape {want} and biases ({want[0]},), got {w.shape} and {b.shape}"
                )

    def astype(self, dtype: DTypeLike) -> NetworkModel:
        """A copy of this network (same sizes, parameters, cost, activations, seed) in ``dtype``."""
        return type(self)(  # type: ignore[call-arg]
            self.sizes,
            weights=[w.astype(dtype) for w in self.weights],
            seed=self.seed,
            biases=[b.astype(dtype) for b in self.biases],
            dtype=dtype,
            cost=self.cost,
            activation=self.activation,
            output_activation=self.output_activation,
            init=self.init,
        )

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted digit per row of X (m, n_in): the index of the most active output neuron."""
        return np.argmax(self.feedforward(np.atleast_2d(X)), axis=1)

    def measure(
        self, X: np.ndarray, labels: np.ndarray, forward: Callable | None = None, chunk: int = 10000
    ) -> tuple[float, int]:
        """``(mean cost, number correct)`` over X (m, n_in) with integer labels (m,), in one pass.

        ``forward`` computes the output of a chunk of rows (default ``feedforward``; an
        engine's faster forward pass gives the same numbers to rounding).
        """
        forward = forward or self.feedforward
        total, correct = 0.0, 0
        for i in range(0, len(X), chunk):
            A = forward(X[i : i + chunk])
            total += self.cost(A, one_hot(labels[i : i + chunk], self.sizes[-1], A.dtype))
            correct += int(np.sum(np.argmax(A, axis=1) == labels[i : i + chunk]))
        return total / max(len(X), 1), correct

    def total_cost(self, X: np.ndarray, Y: np.ndarray) -> float:
        """Mean cost over the rows of X (m, n_in) and one-hot targets Y (m, n_out)."""
        return self.measure(X, np.argmax(Y, axis=1))[0]

    def draw_masks(self, m: int, rng: np.random.Generator | None = None) -> None:
        """None: this network has no dropout (the protocol's ``draw_masks``)."""
        return None

    @staticmethod
    def l2_count(n_examples: int, mini_batch_size: int) -> int:
        """The n of the book's L2 term lambda/(2n) sum w^2: the number of training examples."""
        return n_examples


def _output_index(k, output):
    """``k`` checked as an index of ``output`` (n_out,); None: the index of its largest value."""
    if k is None:
        return int(np.argmax(output))
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or not 0 <= k < len(output):
        raise InputError(f"digit must be an integer 0..{len(output) - 1}, got {k!r}")
    return int(k)
