"""The page of ``glassnet universality``: chapter 4's visual proof, live, beside what SGD learns.

    GET  /                   static/universality.html (with universality.js, .css: an ES module
                             and canvases, nothing from the internet)
    GET  /api/defaults       the book's f sampled at SAMPLES points, the two-input default at
                             SIDE x SIDE, and every limit below
    POST /api/construct      {"f": [K numbers in 0..1], "bumps": N, "weight": w, "correction": bool}
                             -> the construction (``universality.bump_network``): its output and
                             weighted output on VIEW points of [0, 1], its steps and heights, the
                             error (max, mean over the fine grid of 2001 points), and the error
                             against the number of bumps (at this w) and against w (at this N)
    POST /api/towers         {"f": [side*side numbers in 0..1, f(x_i, y_j) at i*side + j], "bumps":
                             N, "weight": w, "method": "quadrants" | "towers", "correction": bool}
                             -> ``universality.tower_network``'s output on VIEW_2D x VIEW_2D
                             points and its error over a 101 x 101 grid
    POST /api/learn          {"inputs": 1 | 2, "f": [...], "bumps": N, "epochs": E, "eta": eta,
                             "method": ...} -> 202 and the learner's state: training starts in a
                             background thread (any earlier run is stopped) on a network with
                             the construction's sizes (``universality.learn``)
    GET  /api/learn          the learner's state: run, state (idle | running | finished |
                             stopped | time | failed), message, epoch, epochs, seconds, sizes,
                             inputs, output (as /api/construct's or /api/towers'), error, cost,
                             hidden (one input: each first-layer neuron's step s = -b/w, w and
                             output weight), history ([{epoch, cost, max, mean}])
    POST /api/learn/stop     stop the run; -> the state

Every input is checked before anything is built: a body over ``MAX_BODY`` bytes is 413, a body
that is not JSON 400, a field that is unknown, missing, of the wrong type, not finite or out of
its range 422; each answer is one JSON ``{"error": "..."}``.  The page's origin only, on this
computer only (``server.add_local_only``), with the house's security headers.  A run is
capped at ``MAX_EPOCHS`` epochs and ``Learner.max_seconds`` seconds; the sizes are those of a
construction within ``MAX_BUMPS`` (one input) or ``MAX_TOWERS`` (two).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time

import numpy as np
from flask import request, send_from_directory

from ..book import universality as u
from .server import MAX_BODY, STATIC, InputError, json_app  # noqa: F401 -- MAX_BODY: this page's limit too

__all__ = [
    "create_app",
    "Learner",
    "parse_construct",
    "parse_towers",
    "parse_learn",
    "construct",
    "towers",
    "MAX_BUMPS",
    "MAX_TOWERS",
    "MAX_WEIGHT",
    "MIN_WEIGHT",
    "MAX_EPOCHS",
    "MAX_SECONDS",
    "MAX_SAMPLES",
    "MAX_SIDE",
    "SAMPLES",
    "SIDE",
    "VIEW",
    "VIEW_2D",
]

MAX_BUMPS, MAX_TOWERS = 200, 20  # 400 hidden neurons; 2N + N^2 = 440 (quadrants)
MIN_WEIGHT, MAX_WEIGHT = 0.1, 1e5
MAX_EPOCHS, MAX_SECONDS = 100_000, 60.0
MAX_ETA = 50.0
MAX_SAMPLES, MAX_SIDE = 1001, 41  # the longest f a page may send: one input, two (a side)
SAMPLES, SIDE = 201, 41  # what the page draws f with
VIEW, VIEW_2D = 401, 61  # where outputs are answered: points of [0, 1], a side of the square
LEARN_SAMPLES = {1: 200, 2: 30}  # training points (for two inputs, a side)
ERROR_POINTS_2D = 101
BUMP_SERIES = (1, 2, 5, 10, 20, 50, 100, 200)
WEIGHT_SERIES = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5)


# -- reading what the page sends -----------------------------------------------------------------
def _reject_constant(name):
    raise InputError(f"{name} is not a number JSON allows", 400)


def _object(body, allowed):
    """The JSON object of a request body (bytes) holding only ``allowed`` keys."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise InputError("the body is not UTF-8 text", 400) from None
    except json.JSONDecodeError as e:
        raise InputError(f"the body is not valid JSON ({e.msg} at character {e.pos})", 400) from None
    except RecursionError:
        raise InputError("the body is nested too deeply", 400) from None
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object with {', '.join(allowed)}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InputError(f"unknown field {unknown[0][:40]!r}; the fields are {', '.join(allowed)}")
    return data


def _number(data, key, lo, hi, default=None, integer=False):
    """data[key]: a finite number (an integer if ``integer``) in lo..hi, or ``default`` if absent."""
    value = data.get(key, default)
    if value is None:
        raise InputError(f'"{key}" is missing')
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise InputError(f'"{key}" must be {"an integer" if integer else "a number"}, got {json.dumps(value)[:40]}')
    if not (math.isfinite(value) and lo <= value <= hi):
        raise InputError(f'"{key}" must be in {lo:g}..{hi:g}, got {str(value)[:40]}')
    return value


def _flag(data, key, default):
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise InputError(f'"{key}" must be true or false, got {json.dumps(value)[:40]}')
    return value


def _values(data, key, n_min, n_max):
    """data[key]: a list of n_min..n_max finite numbers in 0..1, as a float64 array."""
    values = data.get(key)
    if not isinstance(values, list):
        raise InputError(f'"{key}" must be a list of numbers in 0..1, got {json.dumps(values)[:40]}')
    if not n_min <= len(values) <= n_max:
        raise InputError(f'"{key}" must hold {n_min}..{n_max} numbers, got {len(values)}')
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputError(f"{key}[{i}] is not a number: {json.dumps(v)[:40]}")
        if not (math.isfinite(v) and 0 <= v <= 1):
            raise InputError(f"{key}[{i}] = {str(v)[:40]} is not a number in 0..1")
    return np.array(values, dtype=np.float64)


def _square(values):
    """A flat list of side*side values as (side, side), side in 2..MAX_SIDE."""
    side = math.isqrt(len(values))
    if side * side != len(values) or not 2 <= side <= MAX_SIDE:
        raise InputError(f'"f" must hold side*side numbers, side 2..{MAX_SIDE}, got {len(values)}')
    return values.reshape(side, side)


def parse_construct(body):
    """``dict(f (K,), bumps, weight, correction)`` of a /api/construct body; InputError as the
    module's docstring says."""
    data = _object(body, ("f", "bumps", "weight", "correction"))
    return dict(
        f=_values(data, "f", 2, MAX_SAMPLES),
        bumps=_number(data, "bumps", 1, MAX_BUMPS, integer=True),
        weight=float(_number(data, "weight", MIN_WEIGHT, MAX_WEIGHT, u.DEFAULT_WEIGHT)),
        correction=_flag(data, "correction", True),
    )


def _method(data):
    method = data.get("method", "quadrants")
    if method not in u.METHODS:
        raise InputError(f'"method" must be one of {", ".join(u.METHODS)}, got {json.dumps(method)[:40]}')
    return method


def parse_towers(body):
    """``dict(f (side, side), bumps, weight, method, correction)`` of a /api/towers body."""
    data = _object(body, ("f", "bumps", "weight", "method", "correction"))
    return dict(
        f=_square(_values(data, "f", 4, MAX_SIDE**2)),
        bumps=_number(data, "bumps", 1, MAX_TOWERS, integer=True),
        weight=float(_number(data, "weight", MIN_WEIGHT, MAX_WEIGHT, u.DEFAULT_WEIGHT)),
        method=_method(data),
        correction=_flag(data, "correction", True),
    )


def parse_learn(body):
    """``dict(inputs, f, sizes, epochs, eta)`` of a /api/learn body: the sizes are those of the
    construction with ``bumps`` (and ``method`` for two inputs)."""
    data = _object(body, ("inputs", "f", "bumps", "epochs", "eta", "method"))
    inputs = _number(data, "inputs", 1, 2, 1, integer=True)
    if inputs == 1:
        f = _values(data, "f", 2, MAX_SAMPLES)
        bumps = _number(data, "bumps", 1, MAX_BUMPS, integer=True)
        sizes = [1, 2 * bumps, 1]
    else:
        f = _square(_values(data, "f", 4, MAX_SIDE**2))
        bumps = _number(data, "bumps", 1, MAX_TOWERS, integer=True)
        sizes = [2, (2 if _method(data) == "quadrants" else 4) * bumps, bumps * bumps, 1]
    return dict(
        inputs=inputs,
        f=f,
        sizes=sizes,
        epochs=_number(data, "epochs", 1, MAX_EPOCHS, 20000, integer=True),
        eta=float(_number(data, "eta", 1e-6, MAX_ETA, 3.0)),
    )


# -- what the page is answered -------------------------------------------------------------------
def _rounded(a, digits=5):
    """An array as a list of floats to ``digits`` significant digits (not finite: None)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    out = [float(f"{v:.{digits}g}") for v in a.tolist()]
    return [v if math.isfinite(v) else None for v in out]


def _error(e):
    """An error dict with its numbers to 5 significant digits (not finite: None, for JSON)."""
    return {k: (float(f"{e[k]:.5g}") if math.isfinite(e[k]) else None) for k in ("max", "mean")}


def construct(f, bumps, weight, correction=True):
    """The answer to /api/construct for sampled values f (K,) (see the module's docstring)."""
    net = u.bump_network(f, bumps, weight, correction=correction)
    X = u.grid(1, VIEW)
    steps = u.hidden_steps(net)
    series_b = [
        dict(bumps=n, **_error(u.approximation_error(u.bump_network(f, n, weight, correction=correction), f)))
        for n in BUMP_SERIES
    ]
    series_w = [
        dict(weight=w, **_error(u.approximation_error(u.bump_network(f, bumps, w, correction=correction), f)))
        for w in WEIGHT_SERIES
    ]
    return {
        "sizes": net.sizes,
        "hidden": net.sizes[1],
        "bumps": bumps,
        "weight": weight,
        "output": _rounded(net.feedforward(X)[:, 0]),
        "weighted": _rounded(np.clip(u.weighted_output(net, X), -50, 50)),
        "inverse": _rounded(u.inverse_sigmoid(u.as_function(f)(X[:, 0]))),
        "steps": _rounded(steps["step"]),
        "heights": _rounded(steps["output_weight"][0::2]),
        "error": _error(u.approximation_error(net, f)),
        "error_vs_bumps": series_b,
        "error_vs_weight": series_w,
    }


def towers(f, bumps, weight, method="quadrants", correction=True):
    """The answer to /api/towers for sampled values f (side, side)."""
    net = u.tower_network(f, bumps, weight, method=method, correction=correction)
    X = u.grid(2, VIEW_2D)
    target = u.as_function(f, 2)(X[:, 0], X[:, 1])
    return {
        "sizes": net.sizes,
        "hidden": sum(net.sizes[1:-1]),
        "bumps": bumps,
        "weight": weight,
        "method": method,
        "side": VIEW_2D,
        "output": _rounded(net.feedforward(X)[:, 0], 4),
        "target": _rounded(target, 4),
        "error": _error(u.approximation_error(net, f, ERROR_POINTS_2D)),
    }


# -- the learner ---------------------------------------------------------------------------------
class Learner:
    """One training run at a time in a background thread, and the latest look at it.

    ``start(spec)`` (a ``parse_learn`` dict) stops any run and starts a new one; the thread
    publishes a snapshot (``state()``) at most every ``interval`` seconds and at the end, by
    swapping one reference: the page's requests never wait for an epoch.  ``stop()`` ends the
    run and waits for its thread.  A run stops by itself after ``max_seconds``.
    """

    def __init__(self, max_seconds=MAX_SECONDS, interval=0.2):
        if not (0 < max_seconds <= 3600 and interval >= 0):
            raise ValueError(f"need 0 < max_seconds <= 3600 and interval >= 0, got {max_seconds}, {interval}")
        self.max_seconds, self.interval = float(max_seconds), float(interval)
        self._lock = threading.Lock()
        self._runs = itertools.count(1)
        self._thread, self._stop = None, threading.Event()
        self._state = {"run": 0, "state": "idle", "message": None, "history": []}

    def state(self):
        return self._state

    def start(self, spec):
        with self._lock:
            self._halt()
            run, stop = next(self._runs), threading.Event()
            self._stop = stop
            self._state = {
                "run": run,
                "state": "running",
                "message": None,
                "epoch": 0,
                "epochs": spec["epochs"],
                "seconds": 0.0,
                "sizes": spec["sizes"],
                "inputs": spec["inputs"],
                "history": [],
            }
            self._thread = threading.Thread(
                target=self._run, args=(run, spec, stop), name="glassnet-universality-learn", daemon=True
            )
            self._thread.start()
            return self._state

    def stop(self, timeout=10.0):
        with self._lock:
            self._halt(timeout)
            return self._state

    def _halt(self, timeout=10.0):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, run, spec, stop):
        look = _Look(spec)
        last = [-math.inf]

        def callback(network, epoch):
            now = time.perf_counter()
            if now - last[0] >= self.interval:
                last[0] = now
                self._publish(run, look.snapshot(network, epoch + 1), "running")
            return False

        try:
            result = u.learn(
                spec["f"],
                spec["sizes"],
                samples=LEARN_SAMPLES[spec["inputs"]],
                epochs=spec["epochs"],
                eta=spec["eta"],
                callback=callback,
                stop=stop,
                max_seconds=self.max_seconds,
            )
        except Exception as e:  # a diverged run, or a bug: the page says so, the server lives on
            self._publish(run, {}, "failed", f"{type(e).__name__}: {e}"[:280])
            return
        state = {"completed": "finished", "interrupted": "stopped"}.get(result.stopped, result.stopped)
        message = f"stopped after {self.max_seconds:g} s, the page's limit" if state == "time" else None
        self._publish(run, look.snapshot(result.network, result.epochs), state, message)

    def _publish(self, run, snapshot, state, message=None):
        with_history = self._state.get("history", []) + ([snapshot["point"]] if "point" in snapshot else [])
        new = {
            **self._state,
            **{k: v for k, v in snapshot.items() if k != "point"},
            "state": state,
            "message": message,
            "history": with_history,
        }
        if self._state.get("run") == run:
            self._state = new


class _Look:
    """What a snapshot of a learning network shows: its output where the page draws it, its
    error on the fine grid, its cost on the training samples, its hidden steps."""

    def __init__(self, spec):
        self.inputs, self.f, self.started = spec["inputs"], spec["f"], time.perf_counter()
        self.view = u.grid(self.inputs, VIEW if self.inputs == 1 else VIEW_2D)
        self.samples = u.training_samples(u.as_function(self.f, self.inputs), self.inputs, LEARN_SAMPLES[self.inputs])
        self.points = None if self.inputs == 1 else ERROR_POINTS_2D

    def snapshot(self, network, epochs):
        X, Y = self.samples
        cost = float(0.5 * np.mean((network.feedforward(X) - Y) ** 2))
        error = _error(u.approximation_error(network, self.f, self.points))
        out = {
            "epoch": int(epochs),
            "seconds": round(time.perf_counter() - self.started, 3),
            "output": _rounded(network.feedforward(self.view)[:, 0], 4),
            "error": error,
            "cost": float(f"{cost:.5g}"),
            "point": {"epoch": int(epochs), "cost": float(f"{cost:.5g}"), **error},
        }
        if self.inputs == 1:
            steps = u.hidden_steps(network)
            out["hidden"] = {
                "step": _rounded(steps["step"]),
                "weight": _rounded(steps["weight"]),
                "output_weight": _rounded(steps["output_weight"]),
            }
            out["weighted"] = _rounded(np.clip(u.weighted_output(network, self.view), -50, 50))
        return out


# -- the app -------------------------------------------------------------------------------------
def _defaults():
    g, s = np.linspace(0, 1, SAMPLES), np.linspace(0, 1, SIDE)
    sx, sy = np.meshgrid(s, s, indexing="ij")
    limits = dict(
        max_bumps=MAX_BUMPS,
        max_towers=MAX_TOWERS,
        min_weight=MIN_WEIGHT,
        max_weight=MAX_WEIGHT,
        max_epochs=MAX_EPOCHS,
        max_eta=MAX_ETA,
        max_samples=MAX_SAMPLES,
        max_side=MAX_SIDE,
    )
    return {
        "f": _rounded(u.book_function(g)),
        "f2": _rounded(u.book_function_2d(sx, sy), 4),
        "samples": SAMPLES,
        "side": SIDE,
        "view": VIEW,
        "view_2d": VIEW_2D,
        "bumps": u.DEFAULT_BUMPS,
        "weight": u.DEFAULT_WEIGHT,
        "towers": 10,
        "methods": list(u.METHODS),
        "limits": limits,
        "clip": u.CLIP,
        "edge": u.EDGE,
    }


def create_app(learner=None):
    """The Flask app of the chapter-4 page; ``learner`` (a ``Learner``, a new one by default)
    trains for its "learn" button and is ``app.extensions["glassnet_learner"]``."""
    learner = learner if learner is not None else Learner()
    app, error = json_app(__name__)
    app.extensions["glassnet_learner"] = learner
    defaults = _defaults()

    @app.errorhandler(InputError)
    def bad_input(e):
        return error(str(e), e.status)

    _routes(app, learner, defaults)
    return app


def _body():
    return request.get_data(cache=False)


def _routes(app, learner, defaults):
    @app.get("/")
    def index():
        return send_from_directory(STATIC, "universality.html")

    @app.get("/api/defaults")
    def get_defaults():
        return defaults

    @app.post("/api/construct")
    def post_construct():
        return construct(**parse_construct(_body()))

    @app.post("/api/towers")
    def post_towers():
        return towers(**parse_towers(_body()))

    @app.post("/api/learn")
    def post_learn():
        return learner.start(parse_learn(_body())), 202

    @app.get("/api/learn")
    def get_learn():
        return learner.state()

    @app.post("/api/learn/stop")
    def post_stop():
        return learner.stop()
