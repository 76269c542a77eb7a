"""``glassnet train --watch``: the publisher (``glassnet.web.watch``), what it measures, its
stream and controls (``glassnet.web.watchapp``) and the command's page stop.

Needs the web extra (Flask, waitress): skipped without it, except under CI.
"""

import base64
import http.client
import io
import json
import os
import re
import socket
import threading
import time

import numpy as np
import pytest

from glassnet import Network
from glassnet.cli import main
from glassnet.io import load
from glassnet.labels import one_hot
from glassnet.training import TrainingConfig, fit

if os.environ.get("CI"):
    import flask  # noqa: F401  (CI must have the web extra)
    import waitress  # noqa: F401
else:
    pytest.importorskip("flask", reason="needs the web extra: pip install -e '.[web]'")
    pytest.importorskip("waitress", reason="needs the web extra: pip install -e '.[web]'")

from glassnet.web.measures import encode_filters, filter_shape, gradient_norms, per_class_accuracy  # noqa: E402
from glassnet.web.watch import Watch  # noqa: E402
from glassnet.web.watchapp import WatchServer, create_watch_app, events  # noqa: E402


def blobs(n, n_in=16, n_classes=4, seed=0):
    """n points (n, n_in) around n_classes centres, labels (n,): a task learned in a few epochs."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (n_classes, n_in))
    y = rng.integers(0, n_classes, n)
    return (centres[y] + rng.normal(0, 0.8, (n, n_in))).astype(np.float32), y


TRAIN, TEST = blobs(600), blobs(200, seed=1)


def watched(watch, sizes=(16, 12, 8, 4), seed=0, epochs=None, history=None):
    """A network and the fit options that feed ``watch`` (attached to it)."""
    net = Network(list(sizes), seed=seed, cost="cross-entropy")
    watch.attach(
        net,
        test=TEST,
        sample=(TRAIN[0][:100], TRAIN[1][:100]),
        image_shape=(4, 4),
        meta={"dataset": "blobs", "epochs": epochs},
        history=history,
    )
    return net, dict(callbacks=[watch.callback], on_batch=watch.on_batch, stop=watch.stop_event)


def train_in_thread(net, options, epochs=200, mini_batch_size=10):
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(
            r=fit(
                net,
                TRAIN,
                TrainingConfig(epochs=epochs, mini_batch_size=mini_batch_size, eta=0.5),
                test=TEST,
                **options,
            )
        ),
        daemon=True,
    )
    thread.start()
    return thread, result


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


# -- what is measured -------------------------------------------------------------------------------
def test_per_class_accuracy_counts_each_class():
    labels = np.array([0, 0, 0, 1, 1, 3, 3, 3, 3])
    predicted = np.array([0, 1, 0, 1, 1, 3, 0, 3, 2])
    assert per_class_accuracy(predicted, labels, 4) == [2 / 3, 1.0, None, 0.5]
    with pytest.raises(ValueError, match=r"differ in shape"):
        per_class_accuracy(predicted[:3], labels, 4)


@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy", "log-likelihood"])
def test_gradient_norms_are_the_book_loop_averaged(cost):
    """||dC/db^l||: the per-example gradients of a loop written the book's way, averaged."""
    net = Network([16, 7, 5, 4], seed=3, cost=cost, dtype=np.float64)
    X, y = TRAIN[0][:50].astype(np.float64), TRAIN[1][:50]
    Y = one_hot(y, 4, np.float64)
    total = [np.zeros_like(b) for b in net.biases]
    for x, t in zip(X, Y):
        nabla_b, _ = net.backprop(x[None, :], t[None, :])
        total = [s + nb for s, nb in zip(total, nabla_b)]
    expected = [np.linalg.norm(s / len(X)) for s in total]
    assert gradient_norms(net, X, Y) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="at least one example"):
        gradient_norms(net, X[:0], Y[:0])


def test_filters_are_each_neurons_weights_as_an_image():
    assert filter_shape(784) == (28, 28) and filter_shape(64) == (8, 8) and filter_shape(10) == (1, 10)
    assert filter_shape(75, (3, 5, 5)) == (3, 5, 5)
    with pytest.raises(ValueError, match=r"does not hold 784"):
        filter_shape(784, (27, 28))
    W = np.random.default_rng(0).normal(0, 1, (5, 12))
    W[3] = 0  # a dead neuron: all zero, not NaN
    message = encode_filters(W, (3, 4), total=30)
    assert (message["shape"], message["count"], message["total"]) == ([3, 4], 5, 30)
    q = np.frombuffer(base64.b64decode(message["data"]), np.int8).reshape(5, 12)
    back = q / 127 * np.array(message["scale"])[:, None]
    assert np.abs(back - W).max() <= np.abs(W).max() / 127 * 0.51 + 1e-3
    assert np.abs(q).max(axis=1).tolist() == [127, 127, 127, 0, 127]  # each image uses the whole range
    with pytest.raises(ValueError, match=r"shape \(k, 16\)"):
        encode_filters(W, (4, 4))


def test_each_measurement_matches_the_weights_of_its_epoch():
    """The measuring thread's per-class accuracy and gradient norms of epoch j are those of
    the network as epoch j left it (copied here by a callback that runs after the watch's)."""
    watch = Watch(measure_share=1.0, unwatched_share=1.0)
    net, options = watched(watch, epochs=12)
    params = {-1: [p.copy() for p in net.weights + net.biases]}
    options["callbacks"].append(lambda n, r: params.update({r["epoch"]: [p.copy() for p in n.weights + n.biases]}))
    result = fit(net, TRAIN, TrainingConfig(epochs=12, mini_batch_size=20, eta=0.5), test=TEST, **options)
    watch.finish("finished")
    watch.close()
    measured = {m["epoch"]: m for m in watch.updates(None)[0]["measures"]}
    assert -1 in measured and 11 in measured  # before training, and the last epoch always
    for epoch, m in measured.items():
        copy = Network(net.sizes, cost="cross-entropy", weights=params[epoch][:3], biases=params[epoch][3:])
        predicted = np.argmax(copy.feedforward(TEST[0]), axis=1)
        expected = [np.mean(predicted[TEST[1] == c] == c) for c in range(4)]
        assert m["per_class"] == pytest.approx(expected, abs=1e-12)
        X, Y = TRAIN[0][:100], one_hot(TRAIN[1][:100], 4, np.float32)
        assert m["gradient_norms"] == pytest.approx(gradient_norms(copy, X, Y), rel=1e-5)
    last = result.history[-1]
    assert np.mean(measured[11]["per_class"]) == pytest.approx(last["accuracy"], abs=0.05)  # balanced-ish


def test_fast_epochs_are_measured_now_and_then_and_the_last_always():
    """Epochs faster than the measuring thread's share of the time are skipped (dropped
    frames), never waited for; the network before training and the last epoch are measured."""
    watch = Watch(unwatched_share=0.001)
    net, options = watched(watch, epochs=60)
    fit(net, TRAIN, TrainingConfig(epochs=60, mini_batch_size=100, eta=0.5), test=TEST, **options)
    watch.finish("finished")
    watch.close()
    epochs = [m["epoch"] for m in watch.updates(None)[0]["measures"]]
    assert epochs[0] == -1 and epochs[-1] == 59 and epochs == sorted(epochs)
    assert len(epochs) < 20 and watch.skipped == 61 - len(epochs)


def test_a_resumed_run_shows_its_earlier_epochs():
    watch = Watch()
    earlier = [{"epoch": j, "seconds": 0.5, "correct": 50 + j, "total": 200, "accuracy": 0.25} for j in range(3)]
    net, options = watched(watch, history=earlier)
    message, _ = watch.updates(None)
    assert [r["epoch"] for r in message["records"]] == [0, 1, 2] and watch.epochs_done == 3
    assert "measures" not in message and "filters" not in message  # the weights are not the checkpoint's yet
    options["on_batch"](1, 10)
    message, _ = watch.updates(None)
    assert message["progress"] == {"epoch": 3, "done": 1, "total": 10} and message["filters"]["epoch"] == 3
    watch.finish("finished")
    watch.close()


# -- what the stream carries ---------------------------------------------------------------------------
def test_events_carry_the_records_filters_and_status():
    watch = Watch(max_filters=5)
    message, cursor = watch.updates(None)
    assert message == {"reset": True, "status": {"state": "loading", "message": None}}
    net, options = watched(watch, epochs=6)
    result = fit(net, TRAIN, TrainingConfig(epochs=6, mini_batch_size=30, eta=0.5), test=TEST, **options)
    watch.finish("finished", network=net)
    watch.close()
    message, cursor = watch.updates(cursor)
    assert message["meta"]["sizes"] == [16, 12, 8, 4] and message["meta"]["layers"] == [
        "hidden 1",
        "hidden 2",
        "output",
    ]
    assert (message["meta"]["filters_shown"], message["meta"]["filters_total"]) == (5, 12)
    assert [r["epoch"] for r in message["records"]] == list(range(6))
    for sent, kept in zip(message["records"], result.history):
        assert sent["correct"] == kept["correct"] and sent["test_cost"] == pytest.approx(kept["test_cost"], rel=1e-5)
    json.dumps(message, allow_nan=False)  # what the stream sends is strict JSON
    filters = message["filters"]
    q = np.frombuffer(base64.b64decode(filters["data"]), np.int8).reshape(5, 16)
    W = net.weights[0][:5]
    assert np.abs(q / 127 * np.array(filters["scale"])[:, None] - W).max() < np.abs(W).max() / 100
    assert message["status"] == {"state": "finished", "message": None}
    assert message["progress"]["epoch"] == 5 and message["progress"]["done"] == message["progress"]["total"]
    assert watch.updates(cursor) == (None, cursor)  # nothing new: nothing sent
    again, _ = watch.updates(None)  # a page that connects late gets everything
    assert len(again["records"]) == 6 and again["reset"] and again["meta"] == message["meta"]


def test_the_publisher_never_blocks_fit_with_a_stalled_consumer():
    """A page that stops reading (a stream stuck in its sleep, an HTTP client that never
    reads) costs the training nothing: fit ends as fast, and close() gives up after its timeout."""
    options = dict(epochs=40, mini_batch_size=5)
    net = Network([16, 12, 8, 4], seed=0, cost="cross-entropy")
    started = time.perf_counter()
    fit(net, TRAIN, TrainingConfig(eta=0.5, **options), test=TEST)
    alone = time.perf_counter() - started

    server = WatchServer(Watch(filter_interval=0.0), interval=0.001)
    stuck = threading.Event()
    stream = events(server.watch, interval=0, sleep=lambda s: stuck.wait())  # reads once, then hangs
    consumer = threading.Thread(target=lambda: [next(stream), next(stream)], daemon=True)
    consumer.start()
    client = socket.create_connection((server._server.host, server._server.port))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and never reads
    try:
        net, watch_options = watched(server.watch, epochs=40)
        wait_for(lambda: server.watch.open_streams == 2)
        started = time.perf_counter()
        result = fit(net, TRAIN, TrainingConfig(eta=0.5, **options), test=TEST, **watch_options)
        watched_time = time.perf_counter() - started
        assert result.stopped == "completed" and len(result.history) == 40
        assert watched_time < 2 * alone + 1.0
        server.watch.finish("finished")
        started = time.perf_counter()
        server.watch.close(timeout=0.3)  # the stuck stream never ends: close stops waiting
        assert time.perf_counter() - started < 2.0 and server.watch.open_streams >= 1
    finally:
        stuck.set()
        client.close()
        server.close(timeout=0.1)


# -- pause, resume, stop ---------------------------------------------------------------------------------
def test_pause_blocks_the_training_thread_until_resumed():
    watch = Watch()
    net, options = watched(watch, epochs=200)
    calls = []
    on_batch = options["on_batch"]
    options["on_batch"] = lambda done, total: (calls.append(done), on_batch(done, total))
    thread, result = train_in_thread(net, options, epochs=200)
    wait_for(lambda: watch.epochs_done >= 2)
    watch.pause()
    assert watch.status()["state"] == "paused"
    wait_for(lambda: watch.blocked)
    n_calls, n_records, weights = len(calls), watch.epochs_done, net.weights[0].copy()
    time.sleep(0.3)
    assert (len(calls), watch.epochs_done) == (n_calls, n_records)  # not one more step
    assert np.array_equal(net.weights[0], weights) and thread.is_alive()
    watch.resume()
    assert watch.status()["state"] == "running"
    thread.join(60)
    assert result["r"].stopped == "completed" and len(result["r"].history) == 200


@pytest.mark.parametrize("how", ["button", "signal"])
def test_stop_works_while_paused(how):
    """The stop button, or a signal handler that only sets fit's stop Event, ends a paused run."""
    watch = Watch()
    net, options = watched(watch, epochs=10_000)
    thread, result = train_in_thread(net, options, epochs=10_000)
    wait_for(lambda: watch.epochs_done >= 1)
    watch.pause()
    wait_for(lambda: watch.blocked)
    if how == "button":
        watch.request_stop()
    else:
        watch.stop_event.set()
    assert watch.status()["state"] == "stopping"
    thread.join(5)
    assert not thread.is_alive()
    assert result["r"].stopped == "interrupted" and len(result["r"].history) < 10_000
    assert watch.stop_requested == (how == "button")
    watch.finish("stopped")
    assert watch.status()["state"] == "stopped"
    watch.pause()  # a finished run cannot be paused
    assert watch.status()["state"] == "stopped"


def test_the_controls_answer_json_from_this_page_only():
    watch = Watch()
    watched(watch)
    client = create_watch_app(watch).test_client()
    base = {"base_url": "http://127.0.0.1:5000"}
    r = client.post("/api/control", json={"action": "pause"}, **base)
    assert r.status_code == 200 and r.get_json()["state"] == "paused" == watch.status()["state"]
    r = client.post("/api/control", json={"action": "resume"}, headers={"Origin": "http://127.0.0.1:5000"}, **base)
    assert r.status_code == 200 and r.get_json()["state"] == "running"
    assert (
        client.post(
            "/api/control", data="action=stop", content_type="application/x-www-form-urlencoded", **base
        ).status_code
        == 415
    )  # what a form on another site could send
    assert (
        client.post(
            "/api/control", json={"action": "stop"}, headers={"Origin": "http://evil.example"}, **base
        ).status_code
        == 403
    )
    assert (
        client.post("/api/control", json={"action": "stop"}, base_url="http://rebound.example:5000").status_code == 403
    )
    r = client.post("/api/control", json={"action": "explode"}, **base)
    assert r.status_code == 422 and "explode" in r.get_json()["error"]
    assert not watch.stop_event.is_set()
    r = client.post("/api/control", json={"action": "stop"}, **base)
    assert r.get_json()["state"] == "stopping" and watch.stop_event.is_set()
    page = client.get("/", **base)
    assert page.status_code == 200 and b"watch.js" in page.data
    sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page.get_data(as_text=True))
    assert sheets == ["/static/base.css", "/static/watch.css"]  # shared with the drawing page
    for sheet in sheets:
        css = client.get(sheet, **base)
        assert css.status_code == 200 and css.mimetype == "text/css" and b"{" in css.data
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    state = client.get("/api/state", **base).get_json()
    assert state["meta"]["dataset"] == "blobs" and state["status"]["state"] == "stopping"


# -- the stream over HTTP -------------------------------------------------------------------------------
def read_event(response):
    """The JSON of the next ``update`` event of an SSE response (comments and retry skipped)."""
    data = None
    while True:
        line = response.fp.readline().decode()
        if not line:
            raise EOFError("the stream ended")
        if line.startswith("data: "):
            data = json.loads(line[6:])
        elif line in ("\r\n", "\n") and data is not None:
            return data


def test_events_arrive_promptly_over_waitress():
    """waitress sends each event as it is yielded: an epoch reaches the page within
    INTERVAL plus a little, and the stream ends with the final status."""
    with WatchServer(Watch()) as server:
        net, _ = watched(server.watch, epochs=3)
        connection = http.client.HTTPConnection(server._server.host, server._server.port, timeout=10)
        connection.request("GET", "/events")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
        first = read_event(response)
        assert first["reset"] and first["meta"]["sizes"] == [16, 12, 8, 4] and "filters" in first
        delays = []
        for epoch in range(3):
            sent = time.monotonic()
            server.watch.callback(
                net,
                {
                    "epoch": epoch,
                    "seconds": 0.1,
                    "correct": 100 + epoch,
                    "total": 200,
                    "accuracy": 0.5,
                    "test_cost": float("nan"),
                },
            )
            update = read_event(response)
            while "records" not in update:
                update = read_event(response)
            delays.append(time.monotonic() - sent)
            assert update["records"] == [
                {
                    "epoch": epoch,
                    "seconds": 0.1,
                    "correct": 100 + epoch,
                    "total": 200,
                    "accuracy": 0.5,
                    "test_cost": None,
                }
            ]
        assert max(delays) < 1.0, delays
        server.watch.finish("finished")
        while True:
            update = read_event(response)
            if update.get("status", {}).get("state") == "finished":
                break
        rest = response.fp.read()  # the stream ends after it
        assert b"data:" not in rest and rest.endswith(b"0\r\n\r\n")
        connection.close()


# -- the command -------------------------------------------------------------------------------------------
class Lines(io.StringIO):
    """stderr that tells a waiting test when the page's address is printed."""

    def __init__(self):
        super().__init__()
        self.url = None
        self.ready = threading.Event()

    def write(self, text):
        found = re.search(r"# watching at (http://127\.0\.0\.1:\d+/)", text)
        if found:
            self.url = found.group(1)
            self.ready.set()
        return super().write(text)


def test_train_watch_stop_from_the_page_saves_the_model_and_exits_0(tmp_path):
    pytest.importorskip("sklearn")
    out, err, model = io.StringIO(), Lines(), tmp_path / "m.npz"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = {}
    argv = [
        "train",
        "--dataset",
        "digits",
        "--epochs",
        "100000",
        "--log-every",
        "1000",
        "--watch",
        "--watch-port",
        str(port),
        "--save",
        str(model),
    ]
    thread = threading.Thread(target=lambda: code.update(c=main(argv, out=out, err=err)), daemon=True)
    thread.start()
    assert err.ready.wait(30) and err.url == f"http://127.0.0.1:{port}/"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def post(action):
        connection.request(
            "POST", "/api/control", body=json.dumps({"action": action}), headers={"Content-Type": "application/json"}
        )
        return json.loads(connection.getresponse().read())

    def state():
        connection.request("GET", "/api/state")
        return json.loads(connection.getresponse().read())

    wait_for(lambda: len(state().get("records", [])) >= 3, timeout=30)
    assert post("stop")["state"] == "stopping"
    thread.join(30)
    assert code["c"] == 0, err.getvalue()
    assert "# stopped from the watch page after" in err.getvalue()
    net, header = load(model, with_header=True)
    assert net.sizes == [64, 30, 10] and header["stopped"] == "interrupted"
    assert 3 <= len(header["history"]) < 100000


# -- chapter 6: layer networks -------------------------------------------------------------------------
from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer  # noqa: E402
from glassnet.web.measures import fixed_masks  # noqa: E402


def layer_net(conv=True, seed=0, dtype=np.float32):
    """A small layer network for the 16 blob inputs seen as 1x4x4 images, with dropout."""
    first = (
        ConvPoolLayer((5, 1, 3, 3), (1, 4, 4), poolsize=(1, 1), activation_fn="relu")
        if conv
        else FullyConnectedLayer(16, 10, activation_fn="relu")
    )
    return LayerNetwork(
        [first, FullyConnectedLayer(first.n_out, 8, p_dropout=0.3), SoftmaxLayer(8, 4, p_dropout=0.2)],
        seed=seed,
        dtype=dtype,
    )


def test_a_layer_networks_gradient_norms_are_the_per_example_loop_averaged():
    """||dC/db^l|| of a LayerNetwork: its backprop one example at a time, with the same fixed
    masks, averaged; the network's Generator is not touched."""
    net = layer_net(dtype=np.float64)
    for p in net.params():  # the softmax layer starts at zero
        p[...] = np.random.default_rng(1).normal(0, 0.5, p.shape)
    X, y = TRAIN[0][:40].astype(np.float64), TRAIN[1][:40]
    state = net.rng.bit_generator.state
    masks = fixed_masks(net, len(X))
    assert [None if m is None else m.shape for m in masks] == [None, (40, 20), (40, 8)]
    assert net.rng.bit_generator.state == state
    assert all(a is None and b is None or np.array_equal(a, b) for a, b in zip(masks, fixed_masks(net, 40)))
    total = [np.zeros_like(layer.b) for layer in net.layers]
    for i in range(len(X)):
        grads = net.backprop(X[i : i + 1], y[i : i + 1], masks=[None if m is None else m[i : i + 1] for m in masks])
        total = [t + g for t, g in zip(total, grads[1::2])]
    expected = [np.linalg.norm(t / len(X)) for t in total]
    assert gradient_norms(net, X, y, chunk=7, masks=masks) == pytest.approx(expected, rel=1e-9)
    no_dropout = net.backprop(X, y, masks=[None] * 3)[1::2]  # masks=None: no dropout at all
    assert gradient_norms(net, X, y) == pytest.approx([np.linalg.norm(g) for g in no_dropout], rel=1e-9)
    assert net.rng.bit_generator.state == state


@pytest.mark.parametrize("conv", [True, False], ids=["conv first", "dense first"])
def test_a_watched_layer_network_shows_its_layers_filters_and_measures(conv):
    watch = Watch(max_filters=4, measure_share=1.0, unwatched_share=1.0)
    net = layer_net(conv)
    params = {-1: [p.copy() for p in net.params()]}
    watch.attach(net, test=TEST, sample=(TRAIN[0][:100], TRAIN[1][:100]), image_shape=(4, 4), meta={"epochs": 5})
    record = lambda n, r: params.update({r["epoch"]: [p.copy() for p in n.params()]})  # noqa: E731
    fit(
        net,
        TRAIN,
        TrainingConfig(epochs=5, mini_batch_size=20, eta=0.5),
        test=TEST,
        callbacks=[watch.callback, record],
        on_batch=watch.on_batch,
        stop=watch.stop_event,
    )
    watch.finish("finished", network=net)
    watch.close()
    message, _ = watch.updates(None)
    meta = message["meta"]
    first = "conv 5 3x3" if conv else "fc 10"
    assert meta["layers"] == [first, "fc 8", "softmax 4"]
    assert meta["architecture"] == " \u00b7 ".join(["1x4x4" if conv else "16", first, "fc 8", "softmax 4"])
    assert meta["first_layer"] == ("conv" if conv else "dense") and meta["classes"] == 4
    assert meta["image_shape"] == ([3, 3] if conv else [4, 4])
    assert (meta["filters_shown"], meta["filters_total"]) == (4, 5 if conv else 10)
    filters = message["filters"]
    q = np.frombuffer(base64.b64decode(filters["data"]), np.int8).reshape(4, -1)
    W = net.layers[0].w[:4].reshape(4, -1) if not conv else net.layers[0].w[:4, 0].reshape(4, 9)
    assert np.abs(q / 127 * np.array(filters["scale"])[:, None] - W).max() < np.abs(W).max() / 100
    measured = {m["epoch"]: m for m in message["measures"]}
    assert -1 in measured and 4 in measured
    copy = layer_net(conv)
    for epoch, m in measured.items():
        copy.set_params(params[epoch])
        predicted = copy.predict(TEST[0])
        assert m["per_class"] == pytest.approx([np.mean(predicted[TEST[1] == c] == c) for c in range(4)], abs=1e-12)
        X, y = TRAIN[0][:100], TRAIN[1][:100]
        assert m["gradient_norms"] == pytest.approx(
            gradient_norms(copy, X, y, masks=fixed_masks(copy, 100)), rel=1e-4, abs=1e-9
        )
        assert len(m["gradient_norms"]) == 3
    json.dumps(message, allow_nan=False)


@pytest.mark.parametrize("kind", ["layer network", "network"])
def test_watching_does_not_change_the_run(kind):
    """The measuring thread works on a copy with masks of its own: the same seed gives the very
    same weights with a page and without (the network's Generator draws the order and dropout)."""

    def run(watch):
        net = layer_net() if kind == "layer network" else Network([16, 12, 8, 4], seed=0, cost="cross-entropy")
        options = {}
        if watch is not None:
            watch.attach(net, test=TEST, sample=(TRAIN[0][:100], TRAIN[1][:100]), image_shape=(4, 4))
            options = dict(callbacks=[watch.callback], on_batch=watch.on_batch, stop=watch.stop_event)
        fit(net, TRAIN, TrainingConfig(epochs=6, mini_batch_size=10, eta=0.3), test=TEST, **options)
        if watch is not None:
            watch.finish("finished", network=net)
            watch.close()
            assert len(watch.updates(None)[0]["measures"]) >= 2  # it did measure meanwhile
        params = net.params() if kind == "layer network" else net.weights + net.biases
        return params, net.rng.bit_generator.state

    alone, watched_run = run(None), run(Watch(measure_share=1.0, unwatched_share=1.0, filter_interval=0.0))
    assert all(np.array_equal(a, b) for a, b in zip(alone[0], watched_run[0]))
    assert alone[1] == watched_run[1]


def test_train_layers_with_watch_saves_the_same_model_as_without(tmp_path):
    """``glassnet train --layers ... --watch`` on the digits ends with the weights of the run
    without the page (same seed), and the page described the layer network."""
    pytest.importorskip("sklearn")
    argv = [
        "train",
        "--dataset",
        "digits",
        "--layers",
        "conv4x3,pool2,fc20:d0.2",
        "--epochs",
        "3",
        "--log-every",
        "100",
    ]
    assert main(argv + ["--save", str(tmp_path / "a.npz")], out=io.StringIO(), err=io.StringIO()) == 0
    err = Lines()
    assert main(argv + ["--save", str(tmp_path / "b.npz"), "--watch"], out=io.StringIO(), err=err) == 0
    assert err.url is not None, err.getvalue()
    a, b = load(tmp_path / "a.npz"), load(tmp_path / "b.npz")
    assert isinstance(a, LayerNetwork) and all(np.array_equal(p, q) for p, q in zip(a.params(), b.params()))


# -- after the run: the page kept up, a saved run, the Close button ---------------------------------------
def test_close_is_refused_while_the_run_goes_and_ends_the_wait_once_it_is_over():
    """POST {"action": "close"}: 409 while training; once the run is over, the answer is sent and
    then ``WatchServer.wait_closed`` returns (the process may end the server)."""
    with WatchServer(port=0) as server:
        net, options = watched(server.watch, epochs=2)
        connection = http.client.HTTPConnection(server._server.host, server._server.port, timeout=10)

        def post(action):
            connection.request(
                "POST",
                "/api/control",
                body=json.dumps({"action": action}),
                headers={"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            return response.status, json.loads(response.read())

        status, body = post("close")
        assert status == 409 and "stop it first" in body["error"] and not server.watch.closed.is_set()
        fit(net, TRAIN, TrainingConfig(epochs=2, mini_batch_size=50, eta=0.5), test=TEST, **options)
        server.watch.finish("finished", network=net)
        waited = threading.Thread(target=server.wait_closed, daemon=True)
        waited.start()
        time.sleep(0.3)
        assert waited.is_alive()  # the page stays until Close
        assert post("close") == (200, {"state": "finished", "message": None})
        waited.join(5)
        assert not waited.is_alive() and server.watch.closed.is_set()
        connection.close()


def test_a_saved_run_is_published_final_with_one_measurement_of_its_weights():
    """``Watch.show_saved``: the history as records, the saved weights as filters and one
    measurement (per class on the test set, gradient norms on the sample) after its last epoch."""
    net = Network([16, 12, 8, 4], seed=0, cost="cross-entropy")
    result = fit(net, TRAIN, TrainingConfig(epochs=5, mini_batch_size=20, eta=0.5), test=TEST)
    watch = Watch(max_filters=6).show_saved(
        net,
        history=result.history,
        state="interrupted",
        test=TEST,
        sample=(TRAIN[0][:100], TRAIN[1][:100]),
        image_shape=(4, 4),
        meta={"dataset": "blobs", "epochs": 30, "source": "m.npz"},
    )
    message, _ = watch.updates(None)
    assert message["meta"]["saved"] is True and message["meta"]["source"] == "m.npz"
    assert [r["correct"] for r in message["records"]] == [r["correct"] for r in result.history]
    [measured] = message["measures"]
    predicted = np.argmax(net.feedforward(TEST[0]), axis=1)
    assert measured["epoch"] == 4
    assert measured["per_class"] == pytest.approx([np.mean(predicted[TEST[1] == c] == c) for c in range(4)])
    X, Y = TRAIN[0][:100], one_hot(TRAIN[1][:100], 4, np.float32)
    assert measured["gradient_norms"] == pytest.approx(gradient_norms(net, X, Y), rel=1e-5)
    assert message["filters"]["count"] == 6 and message["filters"]["epoch"] == 4
    assert message["status"] == {"state": "interrupted", "message": None}
    assert watch.request_close() and watch.closed.is_set()
    watch.close()  # no measuring thread to wait for
    bare = Watch().show_saved(net)  # a file with no history and no data: curves empty
    message, _ = bare.updates(None)
    assert "records" not in message and "measures" not in message and message["filters"]["count"] == 12
    with pytest.raises(ValueError, match="state must be one of"):
        Watch().show_saved(net, state="running")


def test_train_watch_keep_stays_after_the_pages_stop_until_close(tmp_path):
    """``--watch-keep`` (the default on a terminal): the page's Stop ends the training and saves
    the model; the page stays up with the run until its Close button; the command exits 0."""
    pytest.importorskip("sklearn")
    out, err, model = io.StringIO(), Lines(), tmp_path / "m.npz"
    code = {}
    argv = [
        "train",
        "--dataset",
        "digits",
        "--epochs",
        "100000",
        "--log-every",
        "1000",
        "--watch",
        "--watch-keep",
        "--save",
        str(model),
    ]
    thread = threading.Thread(target=lambda: code.update(c=main(argv, out=out, err=err)), daemon=True)
    thread.start()
    assert err.ready.wait(30)
    port = int(err.url.rsplit(":", 1)[1].strip("/"))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def call(method, path, action=None):
        body = json.dumps({"action": action}) if action else None
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        return json.loads(connection.getresponse().read())

    wait_for(lambda: len(call("GET", "/api/state").get("records", [])) >= 2, timeout=30)
    assert call("POST", "/api/control", "stop")["state"] == "stopping"
    wait_for(lambda: "the page stays up" in err.getvalue(), timeout=30)
    assert model.exists() and thread.is_alive()  # saved, and the page is still there
    state = call("GET", "/api/state")
    assert state["status"]["state"] == "stopped" and state["meta"]["keep"] is True
    assert call("POST", "/api/control", "close")["state"] == "stopped"
    thread.join(30)
    assert code["c"] == 0 and "# closed from the page" in err.getvalue()
    connection.close()
