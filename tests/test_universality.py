"""Chapter 4's visual proof (``glassnet.universality``) and its page (``glassnet universality``).

The construction is checked as the book argues it: a neuron with a large weight is a step at
s = -b/w, two make a bump of height h, N bumps with the sigma^-1 correction approximate f within
an error that shrinks as N grows (and as w grows, up to a step as narrow as a bump), and the same
for two inputs; the network is an ordinary glassnet ``Network``.  The page's JSON endpoints are
driven through Flask's test client; the command in a subprocess.  The web part needs the web
extra (skipped without it, except under CI).
"""

import http.client
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import glassnet
from glassnet import Network
from glassnet import universality as u
from glassnet.errors import InputError
from glassnet.io import load, save

F = u.book_function


# -- the construction, one input ----------------------------------------------------------------
def test_glassnet_universality_is_the_book_module():
    import glassnet.universality as imported
    from glassnet.universality import bump_network

    assert imported is glassnet.universality is u
    assert u.__name__ == "glassnet.book.universality" and bump_network is u.bump_network


def test_the_book_function():
    assert F(0.0) == pytest.approx(0.25)
    x = np.linspace(0, 1, 2001)
    assert 0.09 < F(x).min() < F(x).max() < 0.86  # inside the output sigmoid's range
    assert F(1.0) == pytest.approx(0.2 + 0.4 + 0.3 * np.sin(15) + 0.05 * np.cos(50))


def test_one_neuron_with_a_large_weight_is_a_step_at_minus_b_over_w():
    w, s = 1000.0, 0.37
    net = Network([1, 1, 1], weights=[[[w]], [[1.0]]], biases=[[-w * s], [0.0]], dtype=np.float64)
    hidden = net.activations(np.array([[s - 0.01], [s], [s + 0.01]]))[1][:, 0]
    assert hidden == pytest.approx([0, 0.5, 1], abs=1e-4)
    assert u.hidden_steps(net)["step"] == pytest.approx([s])


def test_two_steps_with_output_weights_h_and_minus_h_are_a_bump_of_height_h():
    net = u.bumps_network([0.3], [0.7], [0.6], 1000.0)
    assert net.sizes == [1, 2, 1]
    assert net.weights[1][0] == pytest.approx([0.6, -0.6])
    assert u.hidden_steps(net)["step"] == pytest.approx([0.3, 0.7])
    z = u.weighted_output(net, np.array([[0.1], [0.35], [0.5], [0.65], [0.9]]))
    assert z == pytest.approx([0, 0.6, 0.6, 0.6, 0], abs=1e-6)


def test_the_construction_is_an_ordinary_network(tmp_path):
    net = u.bump_network(F, 50, 1000.0)
    assert type(net) is Network and net.sizes == [1, 100, 1] and net.dtype == np.float64
    assert [w.shape for w in net.weights] == [(100, 1), (1, 100)] and [b.shape for b in net.biases] == [(100,), (1,)]
    X = u.grid(1, 101)
    labels = np.zeros(len(X), dtype=np.int64)
    assert net.evaluate((X, labels)) == len(X)  # argmax of one output is always 0: meaningless, but it runs
    assert net.measure(X, labels)[1] == len(X)
    path = tmp_path / "chapter4.npz"
    save(net, path)
    again = load(path)
    assert type(again) is Network and again.sizes == net.sizes and again.dtype == np.float64
    assert np.array_equal(again.feedforward(X), net.feedforward(X))
    assert u.approximation_error(again) == u.approximation_error(net)


def test_the_steps_are_the_bumps_edges_and_the_heights_sigma_inverse_of_f():
    net = u.bump_network(F, 10, 1000.0)
    steps = u.hidden_steps(net)
    edges = np.linspace(0, 1, 11)
    expected = np.stack([edges[:-1], edges[1:]], axis=1).reshape(-1)
    expected[0], expected[-1] = -u.EDGE / 1000, 1 + u.EDGE / 1000  # the outermost, just outside
    assert steps["step"] == pytest.approx(expected)
    assert np.all(steps["weight"] == 1000.0)
    centres = (np.arange(10) + 0.5) / 10
    assert steps["output_weight"][0::2] == pytest.approx(np.log(F(centres) / (1 - F(centres))))
    assert steps["output_weight"][1::2] == pytest.approx(-steps["output_weight"][0::2])
    assert net.biases[1] == pytest.approx([0.0])
    # the hidden layer's weighted output is sigma^-1(f) inside each bump, so the output is f there
    assert u.weighted_output(net, centres[:, None]) == pytest.approx(u.inverse_sigmoid(F(centres)), abs=1e-9)
    assert net.feedforward(centres[:, None])[:, 0] == pytest.approx(F(centres), abs=1e-9)


def test_the_error_shrinks_as_bumps_are_added():
    """With w = 10,000 (the staircase the proof has in mind) the largest error falls from 0.47
    at 5 bumps to 0.014 at 200, about max|f'| / (2N); the mean error with it."""
    rows = u.error_table(bumps=(5, 10, 20, 50, 100, 200), weights=(1e4,))
    largest, mean = [r["max"] for r in rows], [r["mean"] for r in rows]
    assert all(a > b for a, b in zip(largest, largest[1:])), largest
    assert all(a > b for a, b in zip(mean, mean[1:])), mean
    assert [r["hidden"] for r in rows] == [10, 20, 40, 100, 200, 400]
    assert largest[0] > 0.4 and largest[3] < 0.07 and largest[-1] < 0.015 and mean[-1] < 0.0025
    steepest = np.abs(np.gradient(F(np.linspace(0, 1, 20001)), 1 / 20000)).max()
    assert all(r["max"] < steepest / (2 * r["bumps"]) * 1.05 for r in rows)


def test_the_error_shrinks_as_the_weight_grows_until_a_step_is_as_narrow_as_a_bump():
    """At 100 bumps: 0.23, 0.094, 0.021, 0.007 for w = 10, 30, 100, 300; beyond, the steps are
    sharper than the bumps are wide and the error rises towards the staircase's (0.031)."""
    rows = u.error_table(bumps=(100,), weights=(10, 30, 100, 300, 1000, 10000, 1e5))
    largest, mean = [r["max"] for r in rows], [r["mean"] for r in rows]
    assert all(a > b for a, b in zip(largest[:4], largest[1:4])), largest
    assert all(a > b for a, b in zip(mean[:4], mean[1:4])), mean
    assert largest[0] > 0.2 and largest[3] < 0.01
    assert all(v < 0.032 for v in largest[3:])  # never worse than the staircase
    assert largest[-1] == pytest.approx(largest[-2], rel=0.05)  # the staircase itself


def test_without_the_sigma_inverse_correction_the_output_is_sigma_of_f():
    right = u.approximation_error(u.bump_network(F, 100, 1000.0))
    wrong = u.approximation_error(u.bump_network(F, 100, 1000.0, correction=False))
    assert right["max"] < 0.015 and wrong["mean"] > 0.25
    net = u.bump_network(F, 10, 1000.0, correction=False)
    x = np.array([[0.55]])  # the centre of bump 5
    assert net.feedforward(x)[0, 0] == pytest.approx(float(glassnet.sigmoid(F(0.55))), abs=1e-9)


def test_sampled_values_are_joined_by_straight_lines():
    values = F(np.linspace(0, 1, 201))
    sampled, exact = u.bump_network(values, 50, 1000.0), u.bump_network(F, 50, 1000.0)
    assert np.abs(sampled.weights[1] - exact.weights[1]).max() < 0.02
    assert u.approximation_error(sampled, values)["max"] < 0.05
    assert u.as_function([0.2, 0.6])(np.array([0.0, 0.25, 1.0])) == pytest.approx([0.2, 0.3, 0.6])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: u.bump_network(F, 0), "bumps must be an integer >= 1, got 0"),
        (lambda: u.bump_network(F, 2.5), "bumps must be an integer"),
        (lambda: u.bump_network(F, 10, float("nan")), "weight must be a finite number > 0"),
        (lambda: u.bump_network(F, 10, -1.0), "weight must be a finite number > 0, got -1.0"),
        (lambda: u.bump_network([0.5]), r"shape \(K,\) with K >= 2, got \(1,\)"),
        (lambda: u.bump_network([0.5, float("inf")]), "must be finite"),
        (lambda: u.tower_network(np.zeros((3, 4))), r"shape \(K, K\)"),
        (lambda: u.tower_network(bumps=2, method="pyramids"), "method must be one of quadrants, towers"),
        (lambda: u.learn(sizes=[3, 4, 1]), "1 or 2 inputs"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(InputError, match=message):
        call()


# -- two inputs ---------------------------------------------------------------------------------
def test_the_quadrant_towers_error_shrinks_as_towers_are_added():
    """With w = 1000 on 101 x 101 points: max 0.34, 0.20, 0.096, 0.037 and mean 0.075, 0.031,
    0.014, 0.0057 for 2, 5, 10, 20 towers a side."""
    rows = u.error_table(bumps=(2, 5, 10, 20), weights=(1000.0,), inputs=2, points=101)
    largest, mean = [r["max"] for r in rows], [r["mean"] for r in rows]
    assert all(a > b for a, b in zip(largest, largest[1:])), largest
    assert all(a > b for a, b in zip(mean, mean[1:])), mean
    assert largest[-1] < 0.04 and mean[-1] < 0.006
    assert [r["hidden"] for r in rows] == [2 * n + n * n for n in (2, 5, 10, 20)]


def test_the_two_input_error_shrinks_as_the_weight_grows():
    rows = u.error_table(bumps=(20,), weights=(10, 30, 100, 1000), inputs=2, points=101)
    largest, mean = [r["max"] for r in rows], [r["mean"] for r in rows]
    assert all(a > b for a, b in zip(largest, largest[1:])), largest
    assert all(a > b for a, b in zip(mean, mean[1:])), mean


def test_the_towers_are_ordinary_networks_with_a_second_hidden_layer(tmp_path):
    for method, first in (("quadrants", 2 * 6), ("towers", 4 * 6)):
        net = u.tower_network(bumps=6, weight=500.0, method=method)
        assert type(net) is Network and net.sizes == [2, first, 36, 1]
        assert net.biases[1] == pytest.approx(np.full(36, -1.5 * 500.0))  # the threshold
        path = tmp_path / f"{method}.npz"
        save(net, path)
        X = u.grid(2, 11)
        assert np.array_equal(load(path).feedforward(X), net.feedforward(X))
        assert net.evaluate((X, np.zeros(len(X), dtype=np.int64))) == len(X)


def test_the_books_towers_leave_a_hole_where_four_towers_meet():
    """Where four towers meet both bumps are half-way up and no tower fires: the output is
    sigma(0) = 1/2 whatever f is there; the quadrants pass between the neighbours' heights."""
    corner = np.array([[0.2, 0.2]])  # a corner of the 10 x 10 towers, f = 0.23
    f = u.book_function_2d(0.2, 0.2)
    towers = u.tower_network(bumps=10, weight=1000.0, method="towers")
    quadrants = u.tower_network(bumps=10, weight=1000.0)
    assert towers.feedforward(corner)[0, 0] == pytest.approx(0.5, abs=1e-3)
    assert abs(quadrants.feedforward(corner)[0, 0] - f) < 0.03
    inside = np.array([[0.25, 0.35]])  # a tower's centre: both agree with f
    for net in (towers, quadrants):
        assert net.feedforward(inside)[0, 0] == pytest.approx(u.book_function_2d(0.25, 0.35), abs=1e-6)
    errors = [
        u.approximation_error(u.tower_network(bumps=n, weight=1e4, method="towers"), points=101) for n in (5, 10, 20)
    ]
    assert all(e["max"] > 0.35 for e in errors)  # the holes: however many towers
    assert errors[0]["mean"] > errors[1]["mean"] > errors[2]["mean"]


def test_two_input_sampled_values_are_read_bilinearly():
    g = np.linspace(0, 1, 41)
    values = u.book_function_2d(*np.meshgrid(g, g, indexing="ij"))
    f = u.as_function(values, 2)
    assert f(np.array([0.3]), np.array([0.7]))[0] == pytest.approx(u.book_function_2d(0.3, 0.7), abs=2e-3)
    assert f(np.array([g[3]]), np.array([g[5]]))[0] == pytest.approx(values[3, 5])
    net = u.tower_network(values, 10, 1000.0)
    assert u.approximation_error(net, values, points=101)["max"] < 0.1


# -- what gradient descent learns ---------------------------------------------------------------
def test_sgd_learns_f_with_as_many_neurons_and_looks_nothing_like_the_proof():
    proof = u.bump_network(F, 10, 1000.0)
    seen = []
    result = u.learn(F, proof.sizes, epochs=3000, callback=lambda net, epoch: seen.append(epoch))
    net = result.network
    assert type(net) is Network and net.sizes == [1, 20, 1] and result.epochs == 3000
    assert result.stopped == "completed" and seen == list(range(3000))
    before = u.approximation_error(Network([1, 20, 1], seed=0, dtype=np.float64))
    after = u.approximation_error(net)
    assert after["mean"] < 0.06 < before["mean"] and after["max"] < before["max"]
    steps, ours = u.hidden_steps(net), u.hidden_steps(proof)
    assert np.all(ours["weight"] == 1000.0) and np.all((ours["step"] >= -0.01) & (ours["step"] <= 1.01))
    assert np.abs(steps["weight"]).max() < 100  # gentle, not steps
    assert np.ptp(np.abs(steps["weight"])) > 1  # and not all alike
    assert np.sum((steps["step"] < 0) | (steps["step"] > 1)) >= 4  # many placed outside [0, 1]


def test_learning_stops_on_request_on_time_and_from_the_callback():
    stop = threading.Event()
    stop.set()
    assert u.learn(F, [1, 4, 1], epochs=100, stop=stop).stopped == "interrupted"
    result = u.learn(F, [1, 4, 1], epochs=10**6, max_seconds=0.2)
    assert result.stopped == "time" and result.seconds < 5
    result = u.learn(F, [1, 4, 1], epochs=100, callback=lambda net, epoch: epoch == 9)
    assert result.stopped == "callback" and result.epochs == 10


def test_learning_two_inputs():
    result = u.learn(None, [2, 6, 9, 1], samples=10, epochs=30)
    assert result.network.sizes == [2, 6, 9, 1] and result.epochs == 30
    assert np.isfinite(u.approximation_error(result.network, points=21)["mean"])


# -- the page -----------------------------------------------------------------------------------
def web():
    if os.environ.get("CI"):
        import flask  # noqa: F401  (CI must have the web extra)
        import waitress  # noqa: F401
    else:
        pytest.importorskip("flask", reason="needs the web extra: pip install -e '.[web]'")
        pytest.importorskip("waitress", reason="needs the web extra: pip install -e '.[web]'")
    from glassnet.web import universality

    return universality


@pytest.fixture
def app_module():
    return web()


@pytest.fixture
def learner(app_module):
    learner = app_module.Learner(max_seconds=20, interval=0.05)
    yield learner
    learner.stop()


@pytest.fixture
def client(app_module, learner):
    return app_module.create_app(learner).test_client()


def test_glassnet_serve_refuses_the_construction_in_one_line(tmp_path, app_module):
    from glassnet.cli import main

    path = tmp_path / "chapter4.npz"
    save(u.bump_network(F, 5, 100.0), path)
    out, err = io.StringIO(), io.StringIO()
    assert main(["serve", str(path)], out, err) == 2
    line = err.getvalue()
    assert len(line.splitlines()) == 1 and "1-10-1" in line and "784 inputs" in line


def test_the_page_and_its_defaults(client, app_module):
    page = client.get("/")
    assert page.status_code == 200 and b'src="/static/universality.js"' in page.data
    assert page.headers["X-Frame-Options"] == "DENY" and "default-src 'self'" in page.headers["Content-Security-Policy"]
    for name in ("universality.js", "universality.css"):
        assert client.get(f"/static/{name}").status_code == 200
    d = client.get("/api/defaults").get_json()
    assert len(d["f"]) == app_module.SAMPLES and d["f"][0] == pytest.approx(0.25)
    assert len(d["f2"]) == app_module.SIDE**2 and d["limits"]["max_bumps"] == app_module.MAX_BUMPS


def test_construct_answers_the_construction_of_what_was_drawn(client, app_module):
    values = F(np.linspace(0, 1, 201))
    r = client.post("/api/construct", json={"f": values.tolist(), "bumps": 20, "weight": 300})
    assert r.status_code == 200
    c = r.get_json()
    net = u.bump_network(values, 20, 300.0)
    assert c["sizes"] == [1, 40, 1] and len(c["output"]) == app_module.VIEW and len(c["steps"]) == 40
    assert c["error"]["max"] == pytest.approx(u.approximation_error(net, values)["max"], rel=1e-4)
    assert [row["bumps"] for row in c["error_vs_bumps"]] == list(app_module.BUMP_SERIES)
    assert len(c["error_vs_weight"]) == len(app_module.WEIGHT_SERIES)
    assert c["output"][200] == pytest.approx(net.feedforward(np.array([[0.5]]))[0, 0], abs=1e-4)


def test_towers_answers_the_two_input_construction(client, app_module):
    g = np.linspace(0, 1, 21)
    values = u.book_function_2d(*np.meshgrid(g, g, indexing="ij"))
    for method in ("quadrants", "towers"):
        r = client.post("/api/towers", json={"f": values.reshape(-1).tolist(), "bumps": 5, "method": method})
        t = r.get_json()
        assert r.status_code == 200 and t["method"] == method and t["side"] == app_module.VIEW_2D
        assert len(t["output"]) == len(t["target"]) == app_module.VIEW_2D**2
        net = u.tower_network(values, 5, u.DEFAULT_WEIGHT, method=method)
        assert t["sizes"] == net.sizes
        assert t["error"]["mean"] == pytest.approx(u.approximation_error(net, values, points=101)["mean"], rel=1e-4)


BAD = [
    ("/api/construct", b"{", 400, "not valid JSON"),
    ("/api/construct", b'{"f": [0.5, NaN], "bumps": 3}', 400, "NaN is not a number JSON allows"),
    ("/api/construct", b"\xff\xfe", 400, "not UTF-8"),
    ("/api/construct", b"[1, 2]", 422, "expected a JSON object"),
    ("/api/construct", b'{"f": [0.5, 0.5]}', 422, '"bumps" is missing'),
    ("/api/construct", b'{"f": "0.5", "bumps": 3}', 422, '"f" must be a list'),
    ("/api/construct", b'{"f": [0.5], "bumps": 3}', 422, '"f" must hold 2..1001 numbers, got 1'),
    ("/api/construct", b'{"f": [0.5, 1.5], "bumps": 3}', 422, "f[1] = 1.5 is not a number in 0..1"),
    ("/api/construct", b'{"f": [0.5, true], "bumps": 3}', 422, "f[1] is not a number"),
    ("/api/construct", b'{"f": [0.5, 1e999], "bumps": 3}', 422, "f[1] = inf is not a number in 0..1"),
    ("/api/construct", b'{"f": [0.5, 0.5], "bumps": 0}', 422, '"bumps" must be in 1..200, got 0'),
    ("/api/construct", b'{"f": [0.5, 0.5], "bumps": 201}', 422, '"bumps" must be in 1..200'),
    ("/api/construct", b'{"f": [0.5, 0.5], "bumps": 2.5}', 422, '"bumps" must be an integer'),
    ("/api/construct", b'{"f": [0.5, 0.5], "bumps": true}', 422, '"bumps" must be an integer'),
    ("/api/construct", b'{"f": [0.5, 0.5], "bumps": 3, "weight": 1e6}', 422, '"weight" must be in 0.1..100000'),
    ("/api/construct", b'{"f": [0.5, 0.5], "bumps": 3, "weight": "big"}', 422, '"weight" must be a number'),
    ("/api/construct", b'{"f": [0.5, 0.5], "bumps": 3, "correction": 1}', 422, '"correction" must be true or false'),
    ("/api/construct", b'{"f": [0.5, 0.5], "bumps": 3, "eval": 1}', 422, "unknown field 'eval'"),
    ("/api/towers", b'{"f": [0.5, 0.5, 0.5, 0.5, 0.5], "bumps": 3}', 422, "side*side numbers, side 2..41, got 5"),
    ("/api/towers", b'{"f": [0.5, 0.5, 0.5, 0.5], "bumps": 21}', 422, '"bumps" must be in 1..20'),
    ("/api/towers", b'{"f": [0.5, 0.5, 0.5, 0.5], "bumps": 2, "method": "x"}', 422, '"method" must be one of'),
    ("/api/learn", b'{"f": [0.5, 0.5], "bumps": 3, "epochs": 1000001}', 422, '"epochs" must be in 1..100000'),
    ("/api/learn", b'{"f": [0.5, 0.5], "bumps": 3, "eta": 0}', 422, '"eta" must be in'),
    ("/api/learn", b'{"f": [0.5, 0.5], "bumps": 3, "inputs": 3}', 422, '"inputs" must be in 1..2'),
    ("/api/learn", b'{"f": [0.5, 0.5, 0.5, 0.5], "bumps": 30, "inputs": 2}', 422, '"bumps" must be in 1..20'),
]


@pytest.mark.parametrize("url, body, status, message", BAD)
def test_bad_input_is_refused_with_one_json_error(client, learner, url, body, status, message):
    r = client.post(url, data=body, content_type="application/json")
    assert r.status_code == status, r.data
    assert r.mimetype == "application/json" and list(r.get_json()) == ["error"]
    assert message in r.get_json()["error"]
    assert learner.state()["state"] == "idle"  # nothing was started


def test_other_refusals(client, app_module):
    big = b'{"f": [' + b"0.5, " * 20000 + b'0.5], "bumps": 3}'
    assert len(big) > app_module.MAX_BODY
    for r, status in (
        (client.post("/api/construct", data=big, content_type="application/json"), 413),
        (client.get("/api/construct"), 405),
        (client.get("/api/nothing"), 404),
        (client.get("/api/defaults", headers={"Host": "evil.example:8004"}), 403),
        (client.post("/api/learn/stop", headers={"Origin": "http://evil.example"}), 403),
    ):
        assert r.status_code == status and list(r.get_json()) == ["error"], (status, r.data)


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_learn_trains_in_the_background_and_reports_as_it_goes(client, app_module, learner):
    values = F(np.linspace(0, 1, 201)).tolist()
    r = client.post("/api/learn", json={"f": values, "bumps": 5, "epochs": 3000})
    assert r.status_code == 202 and r.get_json()["state"] == "running" and r.get_json()["sizes"] == [1, 10, 1]
    wait_for(lambda: client.get("/api/learn").get_json()["state"] != "running")
    s = client.get("/api/learn").get_json()
    assert s["state"] == "finished" and s["epoch"] == 3000 and s["message"] is None
    assert len(s["output"]) == len(s["weighted"]) == app_module.VIEW and len(s["hidden"]["step"]) == 10
    assert len(s["history"]) >= 2 and s["history"][-1]["epoch"] == 3000
    assert s["history"][-1]["mean"] < s["history"][0]["mean"]
    assert s["error"] == {"max": s["history"][-1]["max"], "mean": s["history"][-1]["mean"]}


def test_a_new_run_replaces_the_old_and_stop_stops_it(client, learner):
    values = [0.3, 0.7]
    first = client.post("/api/learn", json={"f": values, "bumps": 5, "epochs": 100000}).get_json()
    second = client.post("/api/learn", json={"f": values, "bumps": 6, "epochs": 100000}).get_json()
    assert second["run"] == first["run"] + 1 and second["sizes"] == [1, 12, 1]
    wait_for(lambda: client.get("/api/learn").get_json().get("epoch", 0) > 0)
    stopped = client.post("/api/learn/stop").get_json()
    assert stopped["state"] == "stopped" and stopped["run"] == second["run"]
    assert client.get("/api/learn").get_json()["state"] == "stopped"


def test_a_run_stops_at_the_time_limit(app_module):
    learner = app_module.Learner(max_seconds=0.3, interval=0.05)
    try:
        client = app_module.create_app(learner).test_client()
        client.post("/api/learn", json={"inputs": 2, "f": [0.2, 0.4, 0.6, 0.8], "bumps": 3, "epochs": 100000})
        wait_for(lambda: learner.state()["state"] != "running")
        s = learner.state()
        assert s["state"] == "time" and "0.3 s" in s["message"] and s["sizes"] == [2, 6, 9, 1]
        assert len(s["output"]) == app_module.VIEW_2D**2 and "hidden" not in s
    finally:
        learner.stop()


def test_glassnet_universality_serves_and_stops_cleanly_on_ctrl_c(app_module):
    proc = subprocess.Popen(
        [sys.executable, "-m", "glassnet", "universality", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline().strip()
        match = re.fullmatch(r"glassnet: serving chapter 4, .* at http://127\.0\.0\.1:(\d+)/", line)
        assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=10)
        body = json.dumps({"f": [0.3, 0.7], "bumps": 4, "epochs": 100000})
        conn.request("POST", "/api/learn", body, {"Content-Type": "application/json"})
        assert conn.getresponse().status == 202  # a run in progress when Ctrl-C comes
        conn.close()
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0 and out == "" and "glassnet: stopped" in err and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
