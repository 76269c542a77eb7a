"""``glassnet serve``: the JSON API, its refusals, the static files and the command.

Needs the ``web`` extra (Flask, waitress): skipped without it, except under CI (CI=...),
where a missing extra is a failure.
"""

import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from glassnet import Network
from glassnet.cli import main
from glassnet.io import load, save

if os.environ.get("CI"):
    import flask  # noqa: F401  (CI must have the web extra)
    import waitress  # noqa: F401
else:
    pytest.importorskip("flask", reason="needs the web extra: pip install -e '.[web]'")
    pytest.importorskip("waitress", reason="needs the web extra: pip install -e '.[web]'")

from glassnet.web import MAX_BODY, Server, create_app  # noqa: E402

requests = pytest.importorskip("requests")


@pytest.fixture(scope="module")
def model(mnist, tmp_path_factory):
    """784-30-10 after one epoch on real MNIST (a few seconds), saved and loaded back."""
    net = Network([784, 30, 10], seed=0)
    net.SGD(
        (mnist.training.X, mnist.training.y), 1, 10, 3.0, test_data=(mnist.test.X[:1000], mnist.test.y[:1000]), log=None
    )
    history = net.history
    path = tmp_path_factory.mktemp("model") / "mnist.npz"
    save(net, path, metadata={"dataset": "mnist", "history": history})
    return path


@pytest.fixture(scope="module")
def loaded(model):
    return load(model, with_header=True)


@pytest.fixture(scope="module")
def client(loaded):
    return create_app(*loaded).test_client()


@pytest.fixture(scope="module")
def server(loaded):
    with Server(create_app(*loaded), port=0) as s:
        yield s


def predict(client, body, **kw):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/predict", data=data, content_type="application/json", **kw)


def raw(server, method, path, body=None, headers=None):
    """One request over a real socket, the path sent exactly as given."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None and "Transfer-Encoding" not in (headers or {}):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body is not None:
            conn.send(body)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type") or "", r.read()
    finally:
        conn.close()


# -- the page and the model --------------------------------------------------------------------
def test_the_page_and_its_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for needle in (
        'id="pad"',
        'id="input"',
        'id="hidden"',
        'id="bars"',
        'id="clear"',
        'id="random"',
        "/static/app.js",
        "/static/style.css",
    ):
        assert needle in html
    assert "http://" not in html and "https://" not in html  # no CDN: works offline
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.mimetype and b"/api/predict" in js.data
    sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert sheets == ["/static/base.css", "/static/style.css"]  # shared with the watch page, then its own
    for sheet in sheets:
        css = client.get(sheet)
        assert css.status_code == 200 and css.mimetype == "text/css" and b"{" in css.data


def test_model_info_comes_from_the_header(client, loaded):
    net, header = loaded
    info = client.get("/api/model").get_json()
    assert info["sizes"] == [784, 30, 10] and info["hidden"] == [30]
    assert info["dataset"] == "mnist" and info["activation"] == "sigmoid"
    assert info["accuracy"] == pytest.approx(header["history"][-1]["accuracy"]) and info["accuracy"] > 0.8


# -- predictions ----------------------------------------------------------------------------------
def test_predict_on_real_test_digits_equals_network_predict(client, loaded, mnist):
    net, _ = loaded
    X, y = mnist.test.X[:25], mnist.test.y[:25]
    expected = net.predict(X)
    assert np.mean(expected == y) >= 0.8  # a network that reads digits, not noise
    for x, want in zip(X, expected):
        r = predict(client, {"pixels": x.tolist()})
        assert r.status_code == 200, r.data
        body = r.get_json()
        assert body["prediction"] == int(want)
        out = net.feedforward(x)
        assert body["outputs"] == pytest.approx(out.tolist(), rel=1e-5)
        assert body["probabilities"] == pytest.approx((out / out.sum()).tolist(), rel=1e-5)
        assert sum(body["probabilities"]) == pytest.approx(1)
        assert int(np.argmax(body["probabilities"])) == body["prediction"]
        assert body["input"] == pytest.approx(x.tolist())
        hidden = 1 / (1 + np.exp(-(net.weights[0] @ x + net.biases[0])))
        assert len(body["hidden"]) == 1 and body["hidden"][0] == pytest.approx(hidden.tolist(), rel=1e-4, abs=1e-6)


def test_predict_over_a_real_socket(server, loaded, mnist):
    net, _ = loaded
    x = mnist.test.X[0]
    status, ctype, data = raw(
        server,
        "POST",
        "/api/predict",
        json.dumps({"pixels": x.tolist()}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200 and ctype.startswith("application/json")
    assert json.loads(data)["prediction"] == int(net.predict(x)[0]) == mnist.test.y[0]


def test_integers_and_the_edges_of_the_range_are_fine(client):
    for pixels in ([0] * 784, [1] * 784, [0.0, 1] * 392):
        assert predict(client, {"pixels": pixels}).status_code == 200


def test_softmax_outputs_as_they_are_and_every_hidden_layer(tmp_path):
    net = Network([784, 16, 12, 10], seed=1, cost="log-likelihood", init="scaled")
    client = create_app(net, {}).test_client()
    x = np.random.default_rng(0).random(784)
    body = predict(client, {"pixels": x.tolist()}).get_json()
    assert body["probabilities"] == pytest.approx(net.feedforward(x).tolist(), rel=1e-5)
    assert [len(h) for h in body["hidden"]] == [16, 12]
    info = client.get("/api/model").get_json()
    assert info["hidden"] == [16, 12] and info["dataset"] is None and info["accuracy"] is None


def test_predict_explains_the_answer_with_a_saliency_map(client, loaded, mnist):
    from glassnet.views.explain import saliency

    net, _ = loaded
    for x in mnist.test.X[:5]:
        body = predict(client, {"pixels": x.tolist()}).get_json()
        assert body["saliency_digit"] == body["prediction"] and len(body["saliency"]) == 784
        assert body["saliency"] == pytest.approx(saliency(net, x.astype(np.float64)).tolist(), rel=1e-9, abs=1e-12)
        assert all(s == 0 for s, v in zip(body["saliency"], x) if v == 0)  # no ink, no evidence
        other = (body["prediction"] + 1) % 10
        why_not = predict(client, {"pixels": x.tolist(), "digit": other}).get_json()
        assert why_not["saliency_digit"] == other and why_not["prediction"] == body["prediction"]
        assert why_not["saliency"] == pytest.approx(
            saliency(net, x.astype(np.float64), other).tolist(), rel=1e-9, abs=1e-12
        )
    assert predict(client, {"pixels": [0] * 784, "digit": None}).status_code == 200


# -- refusals: always 4xx with a JSON message, never a 500 ---------------------------------------
def _pixels(*values):
    return json.dumps({"pixels": list(values) + [0] * (784 - len(values))})


BAD = {
    "not json": (b"pixels please", 400),
    "empty body": (b"", 400),
    "truncated": (b'{"pixels": [0, 0', 400),
    "not utf-8": (b'{"pixels": [\xff]}', 400),
    "NaN literal": (_pixels(float("nan")), 400),  # json.dumps writes NaN, JSON does not allow it
    "Infinity literal": (_pixels(float("inf")), 400),
    "-Infinity literal": (_pixels(float("-inf")), 400),
    "too deep": (b"[" * 30000 + b"]" * 30000, 400),
    "overflowing number": (_pixels(0).replace("[0", "[1e400", 1), 422),
    "a list": (json.dumps([0] * 784), 422),
    "a number": (b"0.5", 422),
    "null": (b"null", 422),
    "no pixels": (json.dumps({"pixel": [0] * 784}), 422),
    "pixels a string": (json.dumps({"pixels": "0" * 784}), 422),
    "pixels an object": (json.dumps({"pixels": {"0": 1}}), 422),
    "pixels null": (json.dumps({"pixels": None}), 422),
    "783 pixels": (json.dumps({"pixels": [0] * 783}), 422),
    "785 pixels": (json.dumps({"pixels": [0] * 785}), 422),
    "no pixel": (json.dumps({"pixels": []}), 422),
    "28x28 nested": (json.dumps({"pixels": [[0] * 28] * 28}), 422),
    "a string pixel": (_pixels("0.5"), 422),
    "a boolean pixel": (_pixels(True), 422),
    "a null pixel": (_pixels(None), 422),
    "a list pixel": (_pixels([0.5]), 422),
    "negative": (_pixels(-0.01), 422),
    "above one": (_pixels(0, 1.5), 422),
    "a huge integer": (_pixels(10**400), 422),
    "255 scale": (_pixels(255), 422),
    "digit 10": (json.dumps({"pixels": [0] * 784, "digit": 10}), 422),
    "digit -1": (json.dumps({"pixels": [0] * 784, "digit": -1}), 422),
    "digit a string": (json.dumps({"pixels": [0] * 784, "digit": "3"}), 422),
    "digit a float": (json.dumps({"pixels": [0] * 784, "digit": 3.0}), 422),
    "digit a boolean": (json.dumps({"pixels": [0] * 784, "digit": True}), 422),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_input_is_refused_with_a_message(client, name):
    body, status = BAD[name]
    r = predict(client, body)
    assert r.status_code == status, r.data
    message = r.get_json()["error"]
    assert isinstance(message, str) and 5 < len(message) < 200 and "\n" not in message


def test_the_message_says_what_is_wrong(client):
    assert "784" in predict(client, {"pixels": [0] * 3}).get_json()["error"]
    assert "pixels[1]" in predict(client, _pixels(0, 2)).get_json()["error"]
    assert "JSON" in predict(client, b"{").get_json()["error"]


def test_a_body_over_the_limit_is_413(client, server):
    big = json.dumps({"pixels": [0.123456789] * 784, "padding": "x" * MAX_BODY}).encode()
    r = predict(client, big)
    assert r.status_code == 413 and "KB" in r.get_json()["error"]
    status, ctype, data = raw(server, "POST", "/api/predict", big, {"Content-Type": "application/json"})
    assert status == 413 and "error" in json.loads(data)


def test_a_chunked_body_over_the_limit_is_refused_too(server):
    chunk = b"x" * 8192
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(12)) + b"0\r\n\r\n"
    status, _, data = raw(
        server, "POST", "/api/predict", body, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    )
    assert status == 413 and "error" in json.loads(data)


# -- bodies over the limit: a 413 for every client, whatever it sends ---------------------------
def _post_requests(server, body, **headers):
    r = requests.post(
        server.url + "api/predict", data=body, timeout=30, headers={"Content-Type": "application/json", **headers}
    )
    return r.status_code, r.headers, r.content


def _post_http_client(server, body):
    """http.client sends the whole body before it reads a byte of the answer."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("POST", "/api/predict", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    finally:
        conn.close()


def _still_answers(server, loaded):
    x = np.zeros(784)
    x[300:310] = 1
    status, _, data = raw(
        server,
        "POST",
        "/api/predict",
        json.dumps({"pixels": x.tolist()}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200 and json.loads(data)["prediction"] == int(loaded[0].predict(x)[0])


def _open_channels(server):
    from glassnet.web.channel import LingeringChannel

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        n = sum(isinstance(c, LingeringChannel) for c in list(server._socket_map().values()))
        if n == 0:
            break
        time.sleep(0.05)
    return n


@pytest.mark.parametrize("post", [_post_requests, _post_http_client], ids=["requests", "http.client"])
@pytest.mark.parametrize("size, times", [(10 * 2**20, 100), (100 * 2**20, 20)], ids=["10MB", "100MB"])
def test_a_huge_body_gets_413_every_time(server, loaded, post, size, times):
    """A user report: a 10 MB body got "connection reset" instead of 413 (bodies under ~1 MB
    got their 413). The server now reads and discards the refused body before closing."""
    body = b"x" * size
    for i in range(times):
        status, headers, data = post(server, body)
        assert status == 413, i
        assert json.loads(data) == {"error": "the request body is larger than 64 KB"}
        assert headers["Content-Type"] == "application/json" and headers["Connection"] == "close"
        assert headers["X-Content-Type-Options"] == "nosniff"
    _still_answers(server, loaded)
    assert _open_channels(server) == 0  # every refused connection was closed after it


def test_the_limit_is_the_same_for_the_server_and_the_app(server):
    """MAX_BODY bytes are read and judged by the app; one byte more is refused unread."""
    pixels = json.dumps({"pixels": [0] * 784}).encode()
    exact = pixels + b" " * (MAX_BODY - len(pixels))
    assert raw(server, "POST", "/api/predict", exact, {"Content-Type": "application/json"})[0] == 200
    status, ctype, data = raw(server, "POST", "/api/predict", exact + b" ", {"Content-Type": "application/json"})
    assert status == 413 and ctype == "application/json" and "64 KB" in json.loads(data)["error"]


def test_expect_100_continue_gets_the_413_before_sending_the_body(server):
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\nExpect: 100-continue\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in answer
    assert answer.endswith(b'{"error": "the request body is larger than 64 KB"}')


def test_a_client_that_stops_sending_still_gets_its_413_and_others_are_served(server, loaded, monkeypatch):
    from glassnet.web import channel

    monkeypatch.setattr(channel, "LINGER_IDLE", 0.5)
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n" + b"x" * 2**20
        )  # 1 MB of the 10 MB it declared, then silence
        _still_answers(server, loaded)
        answer = b""
        while chunk := sock.recv(65536):  # the answer, then the server's end of file
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 413 ")
        started = time.monotonic()
        assert _open_channels(server) == 0  # the silent connection is dropped after LINGER_IDLE
        assert time.monotonic() - started < 3
        _still_answers(server, loaded)


def test_waitress_refusals_are_json_too(server):
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"Content-Type: application/json" in head
    assert "Content-Length" in json.loads(body)["error"]


def test_wrong_methods_and_paths_are_json_errors(client):
    r = client.get("/api/predict")
    assert r.status_code == 405 and "error" in r.get_json()
    r = client.get("/api/nothing")
    assert r.status_code == 404 and r.get_json() == {"error": "not found"}
    assert client.post("/api/model").status_code == 405


# -- static files stay in their folder ---------------------------------------------------------
TRAVERSALS = [
    "/static/../server.py",
    "/static/%2e%2e/server.py",
    "/static/%2E%2E/server.py",
    "/static/..%2fserver.py",
    "/static/%2e%2e%2fserver.py",
    "/static/..%5cserver.py",
    "/static/..\\server.py",
    "/static/%252e%252e/server.py",
    "/static/....//server.py",
    "/static/./../server.py",
    "/static//../server.py",
    "/static/../../web/server.py",
    "/static/../../../../../../etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static//etc/passwd",
    "/static/%2e%2e/%2e%2e/io.py",
    "/static/..%00/server.py",
    "/../server.py",
    "/%2e%2e/server.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_static_paths_cannot_leave_the_static_folder(server, client, path):
    for status, data in (raw(server, "GET", path)[::2], (lambda r: (r.status_code, r.data))(client.get(path))):
        assert status in (400, 404), (path, status)
        assert b"import" not in data and b"root:" not in data


# -- the command -------------------------------------------------------------------------------
def run(argv):
    out, err = io.StringIO(), io.StringIO()
    return main(argv, out=out, err=err), out.getvalue(), err.getvalue()


def test_serve_refuses_what_it_cannot_serve(tmp_path, capsys):
    code, _, err = run(["serve", str(tmp_path / "missing.npz")])
    assert code == 2 and "missing.npz" in err and len(err.splitlines()) == 1
    small = tmp_path / "digits.npz"
    save(Network([64, 30, 10], seed=0), small)
    code, _, err = run(["serve", str(small)])
    assert code == 2 and "64-30-10" in err and "784" in err
    code, _, err = run(["serve", str(small), "--port", "70000"])
    assert code == 2 and "a port is 0..65535" in err and len(err.splitlines()) == 1  # usage error


def test_serve_reports_a_port_in_use(model, server):
    code, _, err = run(["serve", str(model), "--port", str(server.port)])
    assert code == 2 and f"127.0.0.1:{server.port}" in err and len(err.splitlines()) == 1


def test_serve_prints_the_url_and_stops_cleanly_on_ctrl_c(model):
    """The address is on stderr, as train --watch's and watch's are: stdout holds results only."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "glassnet", "serve", str(model), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline().strip()
        match = re.fullmatch(r"glassnet: serving 784-30-10 .* at http://127\.0\.0\.1:(\d+)/", line)
        assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=10)
        conn.request("GET", "/api/model")
        assert json.loads(conn.getresponse().read())["sizes"] == [784, 30, 10]
        conn.close()
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out == "" and "stopped" in err and "Traceback" not in err


# -- chapter 6: layer networks and ensembles ------------------------------------------------------
from glassnet.core.ensemble import Ensemble  # noqa: E402
from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer  # noqa: E402
from glassnet.io import save_ensemble  # noqa: E402
from glassnet.training import TrainingConfig, fit  # noqa: E402
from glassnet.views.explain import saliency as explain_saliency  # noqa: E402
from glassnet.web.models import architecture, as_images, first_layer_images, first_layer_weights, layer_names, reading  # noqa: E402


def conv_net(seed=0):
    """conv 8 5x5 / pool 2 (relu) -> fc 30 (relu) -> softmax 10, for 1x28x28 images."""
    return LayerNetwork(
        [
            ConvPoolLayer((8, 1, 5, 5), (1, 28, 28), activation_fn="relu"),
            FullyConnectedLayer(8 * 12 * 12, 30, activation_fn="relu"),
            SoftmaxLayer(30, 10),
        ],
        seed=seed,
    )


@pytest.fixture(scope="module")
def conv_model(mnist, tmp_path_factory):
    """The conv net after one epoch on 10,000 MNIST images (about a second), saved and loaded."""
    net = conv_net()
    result = fit(
        net,
        (mnist.training.X[:10000], mnist.training.y[:10000]),
        TrainingConfig(epochs=1, mini_batch_size=10, eta=0.1),
        test=(mnist.test.X[:1000], mnist.test.y[:1000]),
    )
    path = tmp_path_factory.mktemp("conv") / "conv.npz"
    save(net, path, metadata={"dataset": "mnist", "history": result.history})
    return load(path, with_header=True)


@pytest.fixture(scope="module")
def conv_client(conv_model):
    return create_app(*conv_model).test_client()


def test_layer_names_and_architecture_come_from_the_layers():
    net = conv_net()
    assert layer_names(net) == ["conv 8 5x5 / pool 2", "fc 30", "softmax 10"]
    assert architecture(net) == "1x28x28 \u00b7 conv 8 5x5 / pool 2 \u00b7 fc 30 \u00b7 softmax 10"
    assert ConvPoolLayer((4, 2, 3, 5), (2, 9, 9), poolsize=(1, 1)).describe() == "conv 4 3x5"
    assert ConvPoolLayer((4, 1, 3, 3), (1, 9, 9), poolsize=(1, 2)).describe() == "conv 4 3x3 / pool 1x2"
    assert layer_names(Network([784, 30, 20, 10])) == ["hidden 1", "hidden 2", "output"]
    assert architecture(Network([784, 30, 10])) == "784-30-10"
    both = Ensemble([conv_net(), conv_net(1)], combine="vote")
    assert architecture(both) == f"ensemble of 2 \u00d7 ({architecture(conv_net())}), majority vote"


def test_first_layer_images_of_every_kind():
    net = LayerNetwork([ConvPoolLayer((5, 3, 2, 4), (3, 8, 8)), SoftmaxLayer(5 * 3 * 2, 4)], seed=0)
    assert first_layer_images(net) == ((2, 4), 5)
    W = first_layer_weights(net, 3)
    assert W.shape == (3, 3, 2, 4) and not np.shares_memory(W, net.layers[0].w)
    assert np.array_equal(as_images(W), net.layers[0].w[:3].mean(axis=1).reshape(3, 8))  # mean over channels
    dense = LayerNetwork([FullyConnectedLayer(64, 12), SoftmaxLayer(12, 10)], seed=0)
    assert first_layer_images(dense, (8, 8)) == ((8, 8), 12)
    assert np.array_equal(as_images(first_layer_weights(dense, 20)), dense.layers[0].w)
    assert first_layer_images(Network([784, 30, 10])) == ((28, 28), 30)


def test_a_conv_model_says_what_it_is(conv_client):
    info = conv_client.get("/api/model").get_json()
    assert info["kind"] == "layer network" and info["description"].startswith("1x28x28 \u00b7 conv 8 5x5 / pool 2")
    assert info["sizes"] == [784, 8 * 12 * 12, 30, 10]
    assert info["hidden"] == [30] and info["hidden_names"] == ["fc 30"]
    assert info["maps"] == [{"name": "conv 8 5x5 / pool 2", "shape": [8, 12, 12], "activation": "relu"}]
    assert info["output_activation"] == "softmax" and info["dataset"] == "mnist" and info["accuracy"] > 0.8


def test_a_conv_model_reads_real_digits_and_shows_its_feature_maps(conv_client, conv_model, mnist):
    net, _ = conv_model
    X, y = mnist.test.X[:20], mnist.test.y[:20]
    assert np.mean(net.predict(X) == y) >= 0.8
    for x in X:
        body = predict(conv_client, {"pixels": x.tolist()}).get_json()
        assert body["prediction"] == int(net.predict(x[None])[0])
        assert body["probabilities"] == pytest.approx(net.feedforward(x[None])[0].tolist(), rel=1e-5, abs=1e-7)
        conv = net.layers[0]  # the first layer by hand: correlate, pool 2x2, + b, relu
        image = x.reshape(28, 28).astype(np.float64)
        windows = np.lib.stride_tricks.sliding_window_view(image, (5, 5))  # (24, 24, 5, 5)
        z = np.einsum("rspq,fpq->frs", windows, conv.w[:, 0].astype(np.float64))
        pooled = z.reshape(8, 12, 2, 12, 2).max(axis=(2, 4)) + conv.b[:, None, None]
        (maps,) = body["maps"]
        assert maps["shape"] == [8, 12, 12]
        assert maps["values"] == pytest.approx(np.maximum(pooled, 0).reshape(-1).tolist(), abs=2e-5)
        fc_in = np.maximum(pooled, 0).reshape(-1)
        fc = net.layers[1]
        assert body["hidden"] == [pytest.approx(np.maximum(fc.w @ fc_in + fc.b, 0).tolist(), rel=1e-4, abs=1e-4)]
        assert body["saliency"] == pytest.approx(explain_saliency(net, x.astype(np.float64)).tolist(), abs=1e-12)
        assert body["saliency_digit"] == body["prediction"]
    why_not = predict(conv_client, {"pixels": X[0].tolist(), "digit": 3}).get_json()
    assert why_not["saliency"] == pytest.approx(explain_saliency(net, X[0].astype(np.float64), 3).tolist(), abs=1e-12)


def test_a_layer_network_without_conv_layers_has_no_maps_and_a_dropout_net_reads_at_inference():
    net = LayerNetwork(
        [
            FullyConnectedLayer(784, 20, activation_fn="tanh", p_dropout=0.5),
            FullyConnectedLayer(20, 12, p_dropout=0.5),
            SoftmaxLayer(12, 10, p_dropout=0.5),
        ],
        seed=4,
    )
    for layer in net.layers[2:]:
        layer.w[...] = np.random.default_rng(1).normal(0, 1, layer.w.shape)
    client = create_app(net, {}).test_client()
    info = client.get("/api/model").get_json()
    assert info["maps"] == [] and info["hidden"] == [20, 12] and info["hidden_names"] == ["fc 20", "fc 12"]
    x = np.random.default_rng(0).random(784)
    body = predict(client, {"pixels": x.tolist()}).get_json()
    before = net.rng.bit_generator.state
    assert body["probabilities"] == pytest.approx(net.feedforward(x[None])[0].tolist(), rel=1e-5)
    assert [len(h) for h in body["hidden"]] == [20, 12] and body["maps"] == []
    again = predict(client, {"pixels": x.tolist()}).get_json()
    assert again == body and net.rng.bit_generator.state == before  # no dropout at inference


def test_an_ensemble_answers_with_the_mean_and_explains_it(conv_model, tmp_path):
    net, _ = conv_model
    book = Network([784, 16, 10], seed=2)  # sigmoid outputs: made into probabilities by their sum
    for combine in ("mean", "vote"):
        ensemble = Ensemble([net, book, conv_net(5)], combine=combine)
        path = save_ensemble(ensemble, tmp_path / f"{combine}.npz", metadata={"dataset": "mnist"})
        client = create_app(*load(path, with_header=True)).test_client()
        info = client.get("/api/model").get_json()
        assert info["kind"] == "ensemble" and info["members"] == 3 and info["combine"] == combine
        assert info["hidden"] == [] and info["maps"] == [] and info["description"].startswith("ensemble of 3")
        x = np.random.default_rng(7).random(784) * (np.random.default_rng(8).random(784) < 0.2)
        body = predict(client, {"pixels": x.tolist(), "digit": 4}).get_json()
        mean = ensemble.feedforward(x[None])[0]
        assert body["probabilities"] == pytest.approx(mean.tolist(), rel=1e-5) and sum(
            body["probabilities"]
        ) == pytest.approx(1)
        assert body["prediction"] == int(ensemble.predict(x[None])[0])
        assert body["saliency_digit"] == 4
        assert body["saliency"] == pytest.approx(explain_saliency(ensemble, x, 4).tolist(), rel=1e-6, abs=1e-9)
        assert body["hidden"] == [] and body["maps"] == []


def test_reading_is_the_same_for_the_book_network_as_before():
    net = Network([784, 16, 12, 10], seed=1)
    x = np.random.default_rng(0).random(784)
    r = reading(net, x)
    a = [v[0] for v in net.activations(x[None].astype(np.float32))]
    assert r["prediction"] == int(np.argmax(a[-1])) and np.allclose(r["outputs"], a[-1])
    assert [h.shape for h in r["hidden"]] == [(16,), (12,)] and r["maps"] == []
    assert r["probabilities"].sum() == pytest.approx(1)


def test_serve_takes_layer_networks_and_ensembles(tmp_path, conv_model, monkeypatch):
    from glassnet.web import server

    monkeypatch.setattr(server.Server, "run", lambda self: (_ for _ in ()).throw(KeyboardInterrupt))
    net, _ = conv_model
    conv = save(net, tmp_path / "conv.npz", metadata={"dataset": "mnist"})
    code, out, err = run(["serve", str(conv), "--port", "0"])
    assert code == 0, err
    assert "serving 1x28x28-conv8x5/pool2-fc30-softmax10 (mnist)" in err and "at http://127.0.0.1:" in err
    assert out == ""  # the address is on stderr: stdout holds results
    both = tmp_path / "ensemble.npz"
    save_ensemble(Ensemble([net, Network([784, 16, 10], seed=0)]), both)
    code, out, err = run(["serve", str(both), "--port", "0"])
    assert code == 0 and "serving ensemble of 2" in err, err
    small = tmp_path / "digits.npz"
    save(LayerNetwork([ConvPoolLayer((4, 1, 3, 3), (1, 8, 8)), SoftmaxLayer(36, 10)], seed=0), small)
    code, _, err = run(["serve", str(small)])
    assert code == 2 and "1x8x8-conv4x3/pool2-softmax10 layer network (64 inputs, 10 outputs)" in err
    assert "784" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"Host": "evil.example:8000"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Host": "127.0.0.1.evil.example"},
    ],
)
@pytest.mark.parametrize("method, route", [("get", "/api/model"), ("post", "/api/predict"), ("get", "/")])
def test_the_drawing_page_answers_its_own_origin_only(headers, method, route):
    """One policy for both pages: another host name (DNS rebinding) or another origin gets 403."""
    from glassnet import Network
    from glassnet.web.server import create_app

    client = create_app(Network([784, 5, 10], seed=0)).test_client()
    body = {"json": {"pixels": [0.0] * 784}} if method == "post" else {}
    refused = getattr(client, method)(route, headers=headers, **body)
    assert refused.status_code == 403 and "own origin" in refused.get_json()["error"]
    own = getattr(client, method)(route, headers={"Host": "127.0.0.1:5000", "Origin": "http://127.0.0.1:5000"}, **body)
    assert own.status_code == 200
