"""One step of backpropagation for one input, every number shown, the way it is worked by hand.

``trace(network, x, y, eta)`` runs the step through the core's own ``Network.activations``
and ``Network.backprop`` in float64 and keeps every intermediate value; ``format_trace``
prints them one line each, with the equation and the numbers that went into it:

    feedforward     z^l = w^l a^(l-1) + b^l,   a^l = sigma(z^l)
    BP1             delta^L = dC/da^L (.) sigma'(z^L)       (quadratic cost: dC/da^L = a^L - y)
    BP2             delta^l = ((w^(l+1))^T delta^(l+1)) (.) sigma'(z^l)
                    -- the bracket is dC/da^l, the primer's ``dc_da_prev``
    BP3             dC/db^l = delta^l
    BP4             dC/dw^l_jk = delta^l_j a^(l-1)_k
    the step        w -> w - eta dC/dw,   b -> b - eta dC/db
    and the cost before and after the step.

Layers are numbered as in the primer: 0 is the input, L the output; ``w^l`` (n_l, n_(l-1))
and ``b^l`` (n_l,) feed layer l. In the ``Trace`` lists, index ``i`` is weight layer i
(the layer numbered i+1), except ``a`` and ``new_a``, which start with the input x.

``primer_example()`` is the primer's single chain (input 0.8, target 1, w = 1.58 and 2.45,
b = -0.14 and -0.11, step 0.1); ``primer_demo()`` its [2, 3, 2] network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.functions import get_cost
from ..core.network import Network
from ..errors import InputError

__all__ = [
    "Trace",
    "trace",
    "format_trace",
    "build_network",
    "float64_copy",
    "primer_example",
    "primer_demo",
    "EXAMPLES",
]


@dataclass
class Trace:
    """Every value of one backpropagation step for one input (float64 arrays).

    With L weight layers and ``n = sizes``:
    ``x`` (n[0],), ``y`` (n[L],); ``weights[i]`` (n[i+1], n[i]) and ``biases[i]`` (n[i+1],)
    before the step, ``new_weights``/``new_biases`` after it; ``z[i]`` (n[i+1],);
    ``a`` = [x, a^1, ..., a^L] (L + 1 arrays); ``grad_a[i]`` = dC/da^(i+1) (n[i+1],);
    ``prime[i]`` = f'(z^(i+1)) (n[i+1],), computed from a as the core does (None for a softmax
    output layer); ``delta[i]`` (n[i+1],); ``nabla_b[i]`` = dC/db (= delta, BP3); ``nabla_w[i]`` = dC/dw
    (n[i+1], n[i]) (BP4); ``new_z``/``new_a`` the feedforward pass after the step.
    """

    sizes: list
    x: np.ndarray
    y: np.ndarray
    eta: float
    cost: str
    activation: str
    output_activation: str
    weights: list
    biases: list
    z: list
    a: list
    grad_a: list
    prime: list
    delta: list
    nabla_b: list
    nabla_w: list
    new_weights: list
    new_biases: list
    new_z: list
    new_a: list
    cost_before: float
    cost_after: float


# -- building networks -----------------------------------------------------------------------------
def build_network(
    sizes=None, *, seed=0, weights=None, biases=None, cost="quadratic", activation="sigmoid", output_activation=None
):
    """A float64 Network: from ``sizes`` and ``seed`` (the core's N(0, 1) start), or from
    explicit ``weights`` (list of (n_out, n_in) arrays) and ``biases`` (list of (n_out,)),
    whose shapes then give the sizes.
    """
    kw = dict(cost=cost, activation=activation, output_activation=output_activation, dtype=np.float64)
    if weights is None and biases is None:
        if sizes is None:
            raise InputError("give the layer sizes, or the weights and biases")
        return Network(sizes, seed=seed, **kw)
    if weights is None or biases is None:
        raise InputError("give both weights and biases, or neither")
    weights = [np.array(w, dtype=np.float64, ndmin=2) for w in weights]
    biases = [np.array(b, dtype=np.float64).reshape(-1) for b in biases]
    derived = [weights[0].shape[1]] + [w.shape[0] for w in weights] if weights else []
    if sizes is not None and [int(s) for s in sizes] != derived:
        raise InputError(f"sizes {list(sizes)} do not match the weights' shapes, which give {derived}")
    try:
        return Network(derived, weights=weights, biases=biases, **kw)
    except ValueError as e:
        raise InputError(str(e)) from None


def float64_copy(network):
    """A float64 copy of ``network`` (same sizes, parameters, cost and activations)."""
    return network.astype(np.float64)


def primer_example():
    """The primer's single chain 1-1-1 as ``(network, x, y, eta)``: weights 1.58 and 2.45,
    biases -0.14 and -0.11, input 0.8, target 1, step 0.1."""
    net = build_network(weights=[[[1.58]], [[2.45]]], biases=[[-0.14], [-0.11]])
    return net, np.array([0.8]), np.array([1.0]), 0.1


def primer_demo():
    """The primer's [2, 3, 2] demo with its given weights: input (0.8, 0.2), target (0, 1), step 0.1."""
    weights = [
        [[-0.11499179, 0.454649], [-0.65801895, 0.56618695], [-0.15686814, -0.87499479]],
        [[0.01071228, -0.49139708, -0.81775586], [-0.87455946, -0.08351883, -0.77534763]],
    ]
    biases = [[0.54001045, 0.75958375, 0.01870296], [-0.32783478, 0.06061246]]
    return build_network(weights=weights, biases=biases), np.array([0.8, 0.2]), np.array([0.0, 1.0]), 0.1


EXAMPLES = {"primer": primer_example, "demo": primer_demo}


# -- the step --------------------------------------------------------------------------------------
def _vector(values, n, name):
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.shape != (n,):
        raise InputError(f"{name} must hold {n} number{'s' * (n != 1)} for this network, got {v.size}")
    if not np.all(np.isfinite(v)):
        raise InputError(f"{name} must be finite, got {v.tolist()}")
    return v


def _forward(net, x):
    """(z, a) of one input through ``net``: a from the core, z = w a + b alongside it."""
    a = [layer[0] for layer in net.activations(x.reshape(1, -1))]
    z = [(a[i].reshape(1, -1) @ w.T + b)[0] for i, (w, b) in enumerate(zip(net.weights, net.biases))]
    return z, a


def trace(network, x, y, eta):
    """One gradient-descent step on one input ``x`` (n_in,) with target ``y`` (n_out,).

    ``network`` is not changed: the step is taken on a float64 copy. Returns a ``Trace``.
    Raises InputError for an x or y of the wrong length or not finite, or a bad eta.
    """
    net = float64_copy(network)
    x = _vector(x, net.sizes[0], "the input x")
    y = _vector(y, net.sizes[-1], "the target y")
    if isinstance(eta, bool) or not isinstance(eta, (int, float, np.floating)) or not math.isfinite(eta) or eta <= 0:
        raise InputError(f"eta must be a positive number, got {eta!r}")
    eta = float(eta)
    z, a = _forward(net, x)
    nabla_b, nabla_w = net.backprop(x.reshape(1, -1), y.reshape(1, -1))
    delta = [nb.copy() for nb in nabla_b]  # BP3: for one input dC/db^l is delta^l
    # dC/da^l = (w^(l+1))^T delta^(l+1) for the hidden layers, the cost's derivative for the output
    grad_a = [(delta[i + 1].reshape(1, -1) @ net.weights[i + 1])[0] for i in range(len(delta) - 1)]
    grad_a.append(net.cost_derivative(a[-1], y))
    acts = [net.activation] * (len(delta) - 1) + [net.output_activation]
    prime = [None if f.prime_from_output is None else f.prime_from_output(a[i + 1]) for i, f in enumerate(acts)]
    new_w = [w - eta * nw for w, nw in zip(net.weights, nabla_w)]
    new_b = [b - eta * nb for b, nb in zip(net.biases, nabla_b)]
    after = build_network(
        weights=new_w,
        biases=new_b,
        cost=net.cost.name,
        activation=net.activation.name,
        output_activation=net.output_activation.name,
    )
    new_z, new_a = _forward(after, x)
    return Trace(
        sizes=list(net.sizes),
        x=x,
        y=y,
        eta=eta,
        cost=net.cost.name,
        activation=net.activation.name,
        output_activation=net.output_activation.name,
        weights=net.weights,
        biases=net.biases,
        z=z,
        a=a,
        grad_a=grad_a,
        prime=prime,
        delta=delta,
        nabla_b=nabla_b,
        nabla_w=nabla_w,
        new_weights=new_w,
        new_biases=new_b,
        new_z=new_z,
        new_a=new_a,
        cost_before=net.cost(a[-1].reshape(1, -1), y.reshape(1, -1)),
        cost_after=after.cost(new_a[-1].reshape(1, -1), y.reshape(1, -1)),
    )


# -- the text --------------------------------------------------------------------------------------
_F = {"sigmoid": "sigma", "tanh": "tanh", "relu": "relu", "softmax": "softmax"}
_PRIME = {"sigmoid": "a(1 - a)", "tanh": "1 - a^2", "relu": "1 if a > 0 else 0"}
_COST = {
    "quadratic": "1/2 ||a^L - y||^2",
    "cross-entropy": "-sum [y ln a^L + (1 - y) ln(1 - a^L)]",
    "log-likelihood": "-sum y ln a^L",
}
_MAX_TERMS = 4  # a sum with more terms than this is shown by its count, not term by term


def _n(v):
    """A number as Python writes it back exactly (shortest round-trip form)."""
    return repr(float(v))


def _p(v):
    """A number as an operand: negative ones in brackets."""
    return f"({_n(v)})" if v < 0 else _n(v)


def _dot(ws, vs, names):
    """The sum of products ws . vs written out, or by its term count when long."""
    if len(ws) > _MAX_TERMS:
        return f"sum of {len(ws)} products {names}"
    return " + ".join(f"{_p(w)}*{_p(v)}" for w, v in zip(ws, vs))


class _Lines:
    """Collects lines; per block at most ``limit`` entry lines, then one '... N more' line."""

    def __init__(self, limit):
        self.lines, self.limit = [], limit

    def add(self, text=""):
        self.lines.append(text)

    def block(self, entries):
        entries = list(entries)
        shown = entries if self.limit is None else entries[: self.limit]
        self.lines.extend("    " + e for e in shown)
        if len(shown) < len(entries):
            self.lines.append(f"    ... {len(entries) - len(shown)} more")


def _feedforward(out, t, z, a, weights, biases):
    for i, (w, b) in enumerate(zip(weights, biases)):
        l = i + 1
        act = t.output_activation if i == len(weights) - 1 else t.activation
        f = _F.get(act, act)
        out.add(f"  layer {l}:")
        out.block(
            f"z^{l}[{j}] = {_dot(w[j], a[i], f'w^{l}[{j},k]*a^{i}[k]')} + {_p(b[j])} = {_n(z[i][j])}"
            for j in range(len(b))
        )
        if act == "softmax":
            out.block(f"a^{l}[{j}] = softmax(z^{l})[{j}] = {_n(a[l][j])}" for j in range(len(b)))
        else:
            out.block(f"a^{l}[{j}] = {f}({_n(z[i][j])}) = {_n(a[l][j])}" for j in range(len(b)))


def _delta_lines(out, t, i, act):
    """delta^l = dC/da^l (.) f'(z^l), each entry with its three numbers."""
    l, f = i + 1, _F.get(act, act)
    out.add(
        f"  {'BP1' if i == len(t.delta) - 1 else 'BP2'}  delta^{l} = dC/da^{l} (.) {f}'(z^{l}),"
        f"   {f}'(z) = {_PRIME.get(act, '?')} with a = {f}(z)"
    )
    out.block(
        f"delta^{l}[{j}] = {_p(g)} * {f}'({_n(z)}) = {_p(g)} * {_p(p)} = {_n(d)}"
        for j, (g, z, p, d) in enumerate(zip(t.grad_a[i], t.z[i], t.prime[i], t.delta[i]))
    )


def _output_delta(out, t):
    L = len(t.delta)
    aL, y, d, g = t.a[-1], t.y, t.delta[-1], t.grad_a[-1]
    if t.cost == "quadratic":
        out.add(f"  dC/da^{L} = a^{L} - y")
        out.block(f"dC/da^{L}[{j}] = {_n(aL[j])} - {_p(y[j])} = {_n(g[j])}" for j in range(len(d)))
    else:
        out.add(f"  dC/da^{L} = the derivative of the {t.cost} cost")
        out.block(f"dC/da^{L}[{j}] = {_n(g[j])}" for j in range(len(d)))
    if t.output_activation in get_cost(t.cost).fused:
        out.add(
            f"  BP1  delta^{L} = a^{L} - y   ({t.cost} cost with {t.output_activation} outputs: "
            f"the derivative of the output activation cancels)"
        )
        out.block(f"delta^{L}[{j}] = {_n(aL[j])} - {_p(y[j])} = {_n(d[j])}" for j in range(len(d)))
    else:
        _delta_lines(out, t, L - 1, t.output_activation)


def _hidden_delta(out, t, i):
    """BP2 for weight layer i (< L - 1): dC/da^l = (w^(l+1))^T delta^(l+1), then delta^l."""
    l, w_next, d_next = i + 1, t.weights[i + 1], t.delta[i + 1]
    out.add(f"  dC/da^{l} = (w^{l + 1})^T delta^{l + 1}")
    out.block(
        f"dC/da^{l}[{k}] = {_dot(w_next[:, k], d_next, f'w^{l + 1}[j,{k}]*delta^{l + 1}[j]')} = {_n(t.grad_a[i][k])}"
        for k in range(len(t.delta[i]))
    )
    _delta_lines(out, t, i, t.activation)


def _gradients(out, t, i):
    l, d, a_prev = i + 1, t.delta[i], t.a[i]
    out.add(f"  BP3  dC/db^{l} = delta^{l}")
    out.block(f"dC/db^{l}[{j}] = {_n(t.nabla_b[i][j])}" for j in range(len(d)))
    out.add(f"  BP4  dC/dw^{l}[j,k] = delta^{l}[j] * a^{i}[k]")
    out.block(
        f"dC/dw^{l}[{j},{k}] = {_p(d[j])} * {_p(a_prev[k])} = {_n(t.nabla_w[i][j, k])}"
        for j in range(len(d))
        for k in range(len(a_prev))
    )


def _updates(out, t):
    eta = _n(t.eta)
    for i in range(len(t.weights) - 1, -1, -1):
        l = i + 1
        out.add(f"  layer {l}:")
        out.block(
            f"b^{l}[{j}] = {_n(b)} - {eta} * {_p(g)} = {_n(nb)}"
            for j, (b, g, nb) in enumerate(zip(t.biases[i], t.nabla_b[i], t.new_biases[i]))
        )
        out.block(
            f"w^{l}[{j},{k}] = {_n(t.weights[i][j, k])} - {eta} * {_p(t.nabla_w[i][j, k])} "
            f"= {_n(t.new_weights[i][j, k])}"
            for j in range(t.weights[i].shape[0])
            for k in range(t.weights[i].shape[1])
        )


def _cost_line(t, a_out, value):
    if t.cost == "quadratic" and len(t.y) <= _MAX_TERMS:
        terms = " + ".join(f"({_n(a)} - {_p(y)})^2" for a, y in zip(a_out, t.y))
        return f"C = 1/2 [{terms}] = {_n(value)}"
    return f"C = {_COST.get(t.cost, t.cost)} = {_n(value)}"


def format_trace(t, limit=None):
    """The trace as text, one value a line with its equation and numbers (see the module doc).

    ``limit``: show at most this many entries per block (None: all of them).
    """
    out = _Lines(limit)
    L = len(t.weights)
    out.add(
        f"One step of backpropagation: network {'-'.join(map(str, t.sizes))}, {t.cost} cost, "
        f"{t.activation} hidden / {t.output_activation} output neurons, eta = {_n(t.eta)}"
    )
    out.add("Layers: 0 is the input, L the output; w^l (n_l x n_(l-1)) and b^l feed layer l.")
    out.add("input a^0 = x:")
    out.block(f"x[{k}] = {_n(v)}" for k, v in enumerate(t.x))
    out.add("target y:")
    out.block(f"y[{j}] = {_n(v)}" for j, v in enumerate(t.y))
    out.add()
    out.add("Feedforward: z^l = w^l a^(l-1) + b^l,  a^l = f(z^l)")
    _feedforward(out, t, t.z, t.a, t.weights, t.biases)
    out.add(f"cost before the step: {_cost_line(t, t.a[-1], t.cost_before)}")
    out.add()
    out.add("Backward, from the output layer to the first:")
    for i in range(L - 1, -1, -1):
        out.add(f" layer {i + 1}:")
        if i == L - 1:
            _output_delta(out, t)
        else:
            _hidden_delta(out, t, i)
        _gradients(out, t, i)
    out.add()
    out.add(f"The step: w -> w - eta dC/dw,  b -> b - eta dC/db   (eta = {_n(t.eta)})")
    _updates(out, t)
    out.add()
    out.add("Feedforward again with the new weights and biases:")
    _feedforward(out, t, t.new_z, t.new_a, t.new_weights, t.new_biases)
    out.add(f"cost after the step:  {_cost_line(t, t.new_a[-1], t.cost_after)}")
    change = t.cost_after - t.cost_before
    out.add(
        f"change: {_n(t.cost_before)} -> {_n(t.cost_after)} ({change:+.6g}, {'lower' if change < 0 else 'not lower'})"
    )
    return "\n".join(out.lines) + "\n"
