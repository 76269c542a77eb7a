"""Chapter 4, "A visual proof that neural nets can compute any function", as real networks.

The chapter has no program, only figures; here each figure's construction is an ordinary
glassnet ``Network`` (sigmoid neurons, ``weights[l]`` of shape (n_out, n_in), float64) that
``evaluate``, ``glassnet.io.save``/``load`` and every page and command take like any other.

One input (``bump_network``), sizes ``[1, 2N, 1]``:

    a step       one hidden neuron sigma(w x + b) with a large weight w is a step at
                 s = -b/w (the book's first figure): weight w, bias -w s
    a bump       two hidden neurons stepping at s1 < s2, output weights h and -h: the
                 weighted output h sigma(w (x - s1)) - h sigma(w (x - s2)) is h on [s1, s2]
    N bumps      pair i steps up at i/N and down at (i+1)/N; its height is taken from f at
                 the bump's centre c_i = (i + 1/2)/N
    sigma^-1     the output neuron applies sigma to its weighted input, so the heights are
                 h_i = sigma^-1(f(c_i)) (f clipped to [CLIP, 1 - CLIP] first) and the output
                 bias is 0: the weighted output approximates sigma^-1 o f, the output f
                 (``correction=False`` takes h_i = f(c_i), the book's uncorrected figure)

Two choices the book leaves open.  The two outermost steps sit ``EDGE / w`` outside [0, 1]
(sigma(-8) = 3e-4) so that x = 0 and x = 1 are inside the first and last bumps rather than
half-way up a step; as w grows they move to 0 and 1.  Neighbouring bumps share their edge,
so between bumps the weighted output passes smoothly from h_i to h_{i+1} (no glitch).

Two inputs (``tower_network``), on the unit square, with a second hidden layer as the book
builds many towers: the first hidden layer holds steps in x (weights (w, 0)) and in y
((0, w)); each neuron of the second is thresholded by a large bias; the output neuron sums
the second layer with the sigma^-1 correction.  Two ways to wire the second layer:

    "towers"     the book's: tower (i, j) gets +W, -W from x-bump i's pair and +W, -W from
                 y-bump j's, bias -3W/2: it fires where both bumps are up.  Output weights
                 h_ij = sigma^-1 f(c_i, c_j).  Sizes [2, 4N, N^2, 1].  Where four towers meet,
                 both bumps are half-way and no tower fires: a hole of width ~1/w at every
                 corner, where the output falls to sigma(0) = 1/2 however large N and w are.
    "quadrants"  the default: neuron (i, j) gets +W from the x-step at s_i and the y-step at
                 t_j, bias -3W/2, and fires on the quadrant x > s_i, y > t_j.  A tower is four
                 quadrants with signs + - - +, so the output weights are the 2-D differences
                 of the heights, d_ij = h_ij - h_{i-1,j} - h_{i,j-1} + h_{i-1,j-1}: the same
                 function as the towers away from the edges, but where quadrants meet the
                 output passes between neighbouring heights instead of falling into a hole.
                 Sizes [2, 2N, N^2, 1].

W, the second layer's weight, is the same ``weight`` as the first layer's w.

The error (``approximation_error``, ``error_table``) is the largest and the mean absolute
difference between the network's output and f over a fine grid (2001 points; 201 x 201).
Measured on the book's f (docs/chapter4.md has the tables): with w = 10,000 the largest
error falls from 0.24 at 10 bumps to 0.065 at 50 and 0.014 at 200, about max|f'| / (2N),
the error of a staircase; at a fixed N it falls as w grows until a step is about as narrow
as a bump (w ~ 3N to 6N), then rises a little towards the staircase's, because a smooth
passage between bumps interpolates better than a jump.

``learn`` trains a network of the same sizes on samples of f with glassnet's own SGD
(``glassnet.training.fit``, quadratic cost on the output value) so that the construction
can be set beside what gradient descent finds, which looks nothing like it: gentle sigmoids
(|w| up to about 20, not 1000) placed anywhere, most of them outside [0, 1] (``hidden_steps``).

Nothing here prints; NumPy only.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ..core.network import Network
from ..errors import InputError

__all__ = [
    "book_function",
    "book_function_2d",
    "as_function",
    "inverse_sigmoid",
    "bumps_network",
    "bump_network",
    "tower_network",
    "approximation_error",
    "error_table",
    "weighted_output",
    "hidden_steps",
    "learn",
    "LearnResult",
    "training_samples",
    "grid",
    "CLIP",
    "EDGE",
    "DEFAULT_BUMPS",
    "DEFAULT_WEIGHT",
    "METHODS",
]

#: f is clipped to [CLIP, 1 - CLIP] before sigma^-1 (sigma^-1 of 0 or 1 is infinite)
CLIP = 1e-3
#: the outermost steps sit EDGE / w outside [0, 1]
EDGE = 8.0
DEFAULT_BUMPS = 50
DEFAULT_WEIGHT = 1000.0
#: the second hidden layer's wiring for two inputs
METHODS = ("quadrants", "towers")
#: points of the fine grid the error is measured on, per axis
GRID, GRID_2D = 2001, 201


def book_function(x):
    """The book's example, f(x) = 0.2 + 0.4 x^2 + 0.3 x sin(15 x) + 0.05 cos(50 x) on [0, 1]
    (values in 0.095..0.853)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.2 + 0.4 * x**2 + 0.3 * x * np.sin(15 * x) + 0.05 * np.cos(50 * x)


def book_function_2d(x, y):
    """The default for two inputs (the book draws towers but gives no f): a hill at (0.6, 0.4)
    on a gentle ripple, f(x, y) = 0.2 + 0.5 exp(-((x - 0.6)^2 + (y - 0.4)^2) / 0.05)
    + 0.1 y sin(8 x), values in 0.10..0.66."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return 0.2 + 0.5 * np.exp(-((x - 0.6) ** 2 + (y - 0.4) ** 2) / 0.05) + 0.1 * y * np.sin(8 * x)


def inverse_sigmoid(y, clip=CLIP):
    """sigma^-1(y) = ln(y / (1 - y)), y clipped to [clip, 1 - clip] first (any shape)."""
    y = np.clip(np.asarray(y, dtype=np.float64), clip, 1 - clip)
    return np.log(y / (1 - y))


def as_function(f, inputs=1):
    """f as a vectorised callable on [0, 1] (``inputs=1``) or the unit square (``inputs=2``).

    f : a callable, f(x) (x an array) or f(x, y); or sampled values -- shape (K,), K >= 2,
        at x = linspace(0, 1, K), joined by straight lines; for two inputs shape (K, K) with
        ``values[i, j] = f(x_i, y_j)`` (``np.meshgrid(..., indexing="ij")``), bilinear.
    Raises InputError for values that are not finite or a shape that does not fit.
    """
    if inputs not in (1, 2):
        raise InputError(f"inputs must be 1 or 2, got {inputs!r}")
    if callable(f):
        return f
    values = np.asarray(f, dtype=np.float64)
    if values.ndim != inputs or min(values.shape, default=0) < 2 or len(set(values.shape)) != 1:
        want = "(K,)" if inputs == 1 else "(K, K)"
        raise InputError(f"sampled values for {inputs} input(s) must have shape {want} with K >= 2, got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise InputError("sampled values must be finite numbers")
    knots = np.linspace(0.0, 1.0, values.shape[0])
    if inputs == 1:
        return lambda x: np.interp(np.asarray(x, dtype=np.float64), knots, values)
    return lambda x, y: _bilinear(values, x, y)


def _bilinear(values, x, y):
    """values (K, K) on the grid of [0, 1]^2, read at points x, y (same shape), bilinearly."""
    k = values.shape[0] - 1
    u = np.clip(np.asarray(x, dtype=np.float64), 0, 1) * k
    v = np.clip(np.asarray(y, dtype=np.float64), 0, 1) * k
    i, j = np.minimum(u.astype(int), k - 1), np.minimum(v.astype(int), k - 1)
    du, dv = u - i, v - j
    return (
        (1 - du) * (1 - dv) * values[i, j]
        + du * (1 - dv) * values[i + 1, j]
        + (1 - du) * dv * values[i, j + 1]
        + du * dv * values[i + 1, j + 1]
    )


def _check(bumps, weight, limit=None):
    """bumps an int >= 1, weight a finite number > 0 (InputError naming the bad value)."""
    if isinstance(bumps, bool) or not isinstance(bumps, (int, np.integer)) or bumps < 1:
        raise InputError(f"bumps must be an integer >= 1, got {bumps!r}")
    if limit is not None and bumps > limit:
        raise InputError(f"bumps must be at most {limit}, got {bumps}")
    if (
        isinstance(weight, bool)
        or not isinstance(weight, (int, float, np.number))
        or not (math.isfinite(weight) and weight > 0)
    ):
        raise InputError(f"weight must be a finite number > 0, got {weight!r}")
    return int(bumps), float(weight)


def _edges(bumps, weight):
    """Where the N bumps start and end: i/N and (i+1)/N, the outermost EDGE/w outside [0, 1]."""
    s = np.linspace(0.0, 1.0, bumps + 1)
    starts, ends = s[:-1].copy(), s[1:].copy()
    starts[0] -= EDGE / weight
    ends[-1] += EDGE / weight
    return starts, ends, (s[:-1] + s[1:]) / 2


def bumps_network(starts, ends, heights, weight, *, output_bias=0.0, dtype=np.float64):
    """The book's bumps as a ``Network([1, 2N, 1])``: hidden neuron 2i steps up at starts[i],
    2i+1 at ends[i] (weight w, bias -w s: the step is at s = -b/w), output weights heights[i]
    and -heights[i]; the weighted output is sum_i h_i on [starts[i], ends[i]], plus output_bias.

    starts, ends, heights : arrays (N,); weight : w, the same for every hidden neuron.
    """
    starts, ends, heights = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (starts, ends, heights))
    if not len(starts) == len(ends) == len(heights) >= 1:
        raise InputError(
            f"starts, ends and heights must have the same length >= 1, got "
            f"{len(starts)}, {len(ends)} and {len(heights)}"
        )
    steps = np.stack([starts, ends], axis=1).reshape(-1)  # (2N,): up, down, up, down, ...
    w1 = np.full((len(steps), 1), float(weight))
    w2 = np.stack([heights, -heights], axis=1).reshape(1, -1)  # (1, 2N): h, -h, ...
    return Network([1, len(steps), 1], weights=[w1, w2], biases=[-weight * steps, [output_bias]], dtype=dtype)


def bump_network(f=book_function, bumps=DEFAULT_BUMPS, weight=DEFAULT_WEIGHT, *, correction=True, dtype=np.float64):
    """The book's construction for f on [0, 1]: a ``Network([1, 2 bumps, 1])`` whose output
    approximates f (see the module's docstring).

    f : a callable or sampled values (``as_function``); its values should lie in (0, 1),
        the output sigmoid's range (they are clipped to [CLIP, 1 - CLIP]).
    bumps : N, the number of bumps (2N hidden neurons); weight : w, every hidden weight.
    correction : heights sigma^-1(f(c_i)) (True, the book's final figure) or f(c_i).
    """
    bumps, weight = _check(bumps, weight)
    f = as_function(f, 1)
    starts, ends, centres = _edges(bumps, weight)
    values = np.asarray(f(centres), dtype=np.float64)
    heights = inverse_sigmoid(values) if correction else values
    return bumps_network(starts, ends, heights, weight, dtype=dtype)


def tower_network(
    f=book_function_2d, bumps=10, weight=DEFAULT_WEIGHT, *, method="quadrants", correction=True, dtype=np.float64
):
    """The construction for f(x, y) on the unit square with ``bumps`` x ``bumps`` towers:
    a ``Network([2, 4N or 2N, N^2, 1])`` (``method`` "towers", the book's, or "quadrants";
    see the module's docstring).  f as ``as_function`` takes it for two inputs; ``weight`` is
    w of the first hidden layer and the second's threshold weight."""
    bumps, weight = _check(bumps, weight)
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    f = as_function(f, 2)
    starts, ends, centres = _edges(bumps, weight)
    cx, cy = np.meshgrid(centres, centres, indexing="ij")
    values = np.asarray(f(cx, cy), dtype=np.float64).reshape(bumps, bumps)
    heights = inverse_sigmoid(values) if correction else values
    layers = _towers(starts, ends, heights, weight) if method == "towers" else _quadrants(starts, heights, weight)
    weights, biases = zip(*layers)
    sizes = [2] + [w.shape[0] for w in weights]
    return Network(sizes, weights=list(weights), biases=list(biases), dtype=dtype)


def _axis_steps(positions, weight, n_axes=2):
    """First-layer (weights, biases) of steps at ``positions`` along x, then along y."""
    n = len(positions)
    w1 = np.zeros((n_axes * n, n_axes))
    for axis in range(n_axes):
        w1[axis * n : (axis + 1) * n, axis] = weight
    return w1, np.tile(-weight * np.asarray(positions), n_axes)


def _towers(starts, ends, heights, weight):
    """The book's towers: x-pairs and y-pairs, tower (i, j) = sigma(W (x-bump_i + y-bump_j - 3/2))."""
    n = len(starts)
    steps = np.stack([starts, ends], axis=1).reshape(-1)  # pair i: neurons 2i (up), 2i+1 (down)
    w1, b1 = _axis_steps(steps, weight)
    pair = np.zeros((n, 2 * n))
    pair[np.arange(n), 2 * np.arange(n)], pair[np.arange(n), 2 * np.arange(n) + 1] = weight, -weight
    w2 = np.concatenate([np.repeat(pair, n, axis=0), np.tile(pair, (n, 1))], axis=1)  # row i*n + j
    b2 = np.full(n * n, -1.5 * weight)
    return [(w1, b1), (w2, b2), (heights.reshape(1, -1), np.zeros(1))]


def _quadrants(starts, heights, weight):
    """Quadrant (i, j) = sigma(W (x-step_i + y-step_j - 3/2)), output weights the heights'
    2-D differences (a tower is four quadrants, + - - +)."""
    n = len(starts)
    w1, b1 = _axis_steps(starts, weight)
    eye = np.eye(n) * weight
    w2 = np.concatenate([np.repeat(eye, n, axis=0), np.tile(eye, (n, 1))], axis=1)  # row i*n + j
    b2 = np.full(n * n, -1.5 * weight)
    d = np.diff(np.diff(heights, axis=0, prepend=0.0), axis=1, prepend=0.0)
    return [(w1, b1), (w2, b2), (d.reshape(1, -1), np.zeros(1))]


def grid(inputs=1, points=None):
    """The fine grid the error is measured on: X (points, 1) for one input (``GRID`` points by
    default), X (points^2, 2) row i*points + j = (x_i, y_j) for two (``GRID_2D`` a side)."""
    points = int(points or (GRID if inputs == 1 else GRID_2D))
    if points < 2:
        raise InputError(f"a grid needs at least 2 points a side, got {points}")
    g = np.linspace(0.0, 1.0, points)
    if inputs == 1:
        return g.reshape(-1, 1)
    gx, gy = np.meshgrid(g, g, indexing="ij")
    return np.stack([gx.reshape(-1), gy.reshape(-1)], axis=1)


def _target(f, X):
    """f at the rows of X (m, 1 or 2), as (m,)."""
    f = as_function(f, X.shape[1])
    values = f(X[:, 0]) if X.shape[1] == 1 else f(X[:, 0], X[:, 1])
    return np.broadcast_to(np.asarray(values, dtype=np.float64), (len(X),))


def approximation_error(network, f=None, points=None):
    """``{"max": ..., "mean": ...}``: the largest and the mean |output - f| over the fine grid
    (``grid``) of the network's inputs (1 or 2).  f defaults to the book's function
    (``book_function``, ``book_function_2d``)."""
    inputs = network.n_in
    if inputs not in (1, 2):
        raise InputError(f"the error is measured for networks of 1 or 2 inputs, got {inputs}")
    f = f if f is not None else (book_function if inputs == 1 else book_function_2d)
    X = grid(inputs, points)
    error = np.abs(np.asarray(network.feedforward(X), dtype=np.float64)[:, 0] - _target(f, X))
    return {"max": float(error.max()), "mean": float(error.mean())}


def error_table(
    f=None,
    bumps=(5, 10, 20, 50, 100, 200),
    weights=(10.0, 100.0, 1000.0, 10000.0),
    *,
    inputs=1,
    method="quadrants",
    correction=True,
    points=None,
):
    """The construction's error for every pair of a number of bumps and a weight: a list of
    ``{"bumps", "weight", "hidden" (neurons), "max", "mean"}`` in the order bumps x weights.
    f defaults to the book's function (of ``inputs`` 1 or 2 variables)."""
    f = f if f is not None else (book_function if inputs == 1 else book_function_2d)
    rows = []
    for n in bumps:
        for w in weights:
            net = (
                bump_network(f, n, w, correction=correction)
                if inputs == 1
                else tower_network(f, n, w, method=method, correction=correction)
            )
            rows.append(
                {
                    "bumps": int(n),
                    "weight": float(w),
                    "hidden": sum(net.sizes[1:-1]),
                    **approximation_error(net, f, points),
                }
            )
    return rows


def weighted_output(network, X):
    """The output neuron's weighted input z = sum_j w_j a_j + b for inputs X (m, n_in): the
    book's "weighted output from the hidden layer", which approximates sigma^-1 o f.  (m,)."""
    A = network.activations(np.asarray(X, dtype=network.dtype).reshape(-1, network.sizes[0]))[-2]
    return (A @ network.weights[-1].T + network.biases[-1])[:, 0]


def hidden_steps(network):
    """What each first-hidden-layer neuron of a one-input network is: ``{"weight": w (n,),
    "bias": b (n,), "step": s = -b/w (n,) (inf where w = 0), "output_weight": (n,) (its
    weight into the next layer's first neuron)}``.  For the construction every |w| is the
    same and every step is a bump's edge; for a learned network, not."""
    if network.sizes[0] != 1:
        raise InputError(f"hidden_steps reads networks of one input, got {network.sizes[0]}")
    w = np.asarray(network.weights[0][:, 0], dtype=np.float64)
    b = np.asarray(network.biases[0], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(w != 0, -b / np.where(w != 0, w, 1.0), np.inf)
    return {"weight": w, "bias": b, "step": s, "output_weight": np.asarray(network.weights[1][0], np.float64)}


def training_samples(f, inputs=1, samples=200):
    """``(X, Y)`` to learn f from: ``samples`` equally spaced points of [0, 1] (for two inputs
    ``samples`` a side of the square), X (m, inputs), Y (m, 1) = f(X)."""
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 2:
        raise InputError(f"samples must be an integer >= 2, got {samples!r}")
    X = grid(inputs, samples)
    return X, _target(f, X).reshape(-1, 1).copy()


@dataclass
class LearnResult:
    """What ``learn`` returns: the trained network, the epochs run, the seconds they took and
    why it stopped ("completed", "time" (max_seconds), "callback", "interrupted" (stop))."""

    network: Network
    epochs: int
    seconds: float
    stopped: str
    history: list = field(default_factory=list)


def learn(
    f=None,
    sizes=(1, 2 * DEFAULT_BUMPS, 1),
    *,
    samples=200,
    epochs=2000,
    eta=3.0,
    mini_batch_size=10,
    seed=0,
    callback=None,
    stop=None,
    max_seconds=None,
    dtype=np.float64,
    engine=None,
):
    """Train a ``Network(sizes)`` (the book's N(0, 1) start, sigmoid neurons) on samples of f
    with glassnet's SGD (``glassnet.training.fit``, the quadratic cost on the output value);
    returns a ``LearnResult``.

    f : as ``as_function`` takes it, of sizes[0] (1 or 2) inputs; the book's function by default.
    sizes : e.g. ``bump_network(f).sizes``, to learn with as many hidden neurons as the proof.
    samples : points on [0, 1] (for two inputs, a side of the square): ``training_samples``.
    callback : ``callback(network, epoch)`` after every epoch (epoch counted from 0); returning
        True stops.  stop : a ``threading.Event`` that stops the run at the next mini-batch.
    max_seconds : stop after this long.  engine : as ``fit`` takes it (None: the fastest).
    """
    from ..training import TrainingConfig, fit  # here: ``import glassnet`` stays light

    sizes = [int(s) for s in sizes]
    if sizes[0] not in (1, 2) or sizes[-1] != 1:
        raise InputError(f"learn fits a function of 1 or 2 inputs with one output, got sizes {sizes}")
    f = f if f is not None else (book_function if sizes[0] == 1 else book_function_2d)
    X, Y = training_samples(f, sizes[0], samples)
    net = Network(sizes, seed=seed, dtype=dtype)
    started, timed_out = time.perf_counter(), []

    def after_epoch(network, record):
        if max_seconds is not None and time.perf_counter() - started >= max_seconds:
            timed_out.append(True)
            return True
        return bool(callback(network, record["epoch"])) if callback is not None else False

    result = fit(
        net,
        (X, Y),
        TrainingConfig(epochs=epochs, mini_batch_size=mini_batch_size, eta=eta),
        callbacks=[after_epoch],
        stop=stop if stop is not None else threading.Event(),
        engine=engine,
    )
    stopped = "time" if timed_out else result.stopped
    return LearnResult(net, len(result.history), time.perf_counter() - started, stopped, result.history)


# ``glassnet.universality`` is this module too: ``glassnet/__init__.py`` imports it, and this makes
# ``import glassnet.universality`` and ``from glassnet.universality import ...`` find it
sys.modules.setdefault(__name__.rsplit(".", 2)[0] + ".universality", sys.modules[__name__])
