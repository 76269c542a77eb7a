"""The live view inside a notebook (``glassnet.web.widget``) and models showing themselves in one
(``glassnet.views.html``): no browser, no kernel -- the widget's traitlets are read in Python.

The widget is fed by the live page's own publisher (``web.watch.Watch``): these tests run a
page's stream (``web.watchapp.events``) beside the widget on the same run and check that the
traitlets end holding what the page received, that they were updated while the run went on,
and that every way of training (the book's ``net.SGD``, ``glassnet.fit``, ``training.fit``,
network2's and network3's ``SGD``, the estimator) shows in it without changing the run.
Needs the notebook extra (anywidget) and the web extra (Flask): skipped without them, except
under CI.
"""

import base64
import io
import json
import os
import re
import sys
import threading

import numpy as np
import pytest

import glassnet
from glassnet import Network, network2, network3
from glassnet.core.ensemble import Ensemble
from glassnet.core.model import ENGINE_CHOOSERS
from glassnet.training import TrainingConfig, fit
from glassnet.views import html as views_html

if os.environ.get("CI"):
    import anywidget  # noqa: F401  (CI must have the notebook extra)
    import flask  # noqa: F401
else:
    pytest.importorskip("anywidget", reason='needs the notebook extra: pip install -e ".[notebook]"')
    pytest.importorskip("flask", reason='needs the web extra: pip install -e ".[web]"')

from PIL import Image  # noqa: E402

from glassnet.web import widget as widget_module  # noqa: E402
from glassnet.web.watchapp import events  # noqa: E402
from glassnet.web.widget import LiveView, live  # noqa: E402

KEYS = ("meta", "records", "measures", "filters", "progress", "status")


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits: (X (1437, 64) float32 in [0, 1], y), (X (360, 64), y)."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    d = sklearn_datasets.load_digits()
    X, y = (d.data / 16).astype(np.float32), d.target
    return (X[:1437], y[:1437]), (X[1437:], y[1437:])


def page_stream(watch):
    """The live page's stream of ``watch`` (its SSE generator) read in a thread, as a browser
    would; ``join()`` returns the messages it carried."""
    messages = []

    def read():
        for chunk in events(watch, interval=0.005, heartbeat=60):
            found = re.search(r"^data: (.*)$", chunk, re.M)
            if found:
                messages.append(json.loads(found.group(1)))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()

    def join():
        thread.join(30)
        assert not thread.is_alive(), "the page's stream did not end after the final status"
        return messages

    return join


def merged(messages):
    """What a page holds after ``messages``: records and measures appended, the rest the latest."""
    state = {"meta": None, "records": [], "measures": [], "filters": None, "progress": None, "status": None}
    for m in messages:
        for key in KEYS:
            if key in m:
                state[key] = state[key] + m[key] if key in ("records", "measures") else m[key]
    return state


def state_of(view):
    return {key: getattr(view.widget, key) for key in KEYS}


# -- the widget gets what the page gets --------------------------------------------------------------
def test_the_widget_receives_what_the_live_page_would(mnist):
    """A short run of the book's network on this run's MNIST (a part of it), with the page's
    stream open beside the widget: at the end the traitlets hold exactly what the page
    received -- the same meta, the same records, the same measurements, the same last
    filters, progress and status -- and the records grew one epoch at a time while it ran."""
    X, y = mnist.training.X[:3000], mnist.training.y[:3000]
    test = (mnist.test.X[:1000], mnist.test.y[:1000])
    net = Network([784, 30, 10], seed=1)
    view = live(net, test=test, epochs=4, dataset="mnist", interval=0.0)
    seen = []
    view.widget.observe(lambda change: seen.append((len(change.new), view.widget.status["state"])), names="records")
    joined = page_stream(view.watch)
    with view:
        result = fit(net, (X, y), TrainingConfig(epochs=4, mini_batch_size=10, eta=3.0), test=test)
    page = merged(joined())
    widget = state_of(view)
    assert widget == merged([view.watch.updates(None)[0]])  # all a page opened now would get
    # the page's stream, which ends with the final status, had all of it but for measurements
    # the measuring thread finished after that status (the widget waits for them)
    assert {k: v for k, v in widget.items() if k != "measures"} == {k: v for k, v in page.items() if k != "measures"}
    assert widget["measures"][: len(page["measures"])] == page["measures"] and page["measures"]
    assert page["status"] == {"state": "finished", "message": None}
    assert [length for length, _ in seen] == [1, 2, 3, 4]  # one update per epoch, as it ran
    assert all(state == "running" for _, state in seen)
    assert [r["correct"] for r in widget["records"]] == [r["correct"] for r in result.history]
    assert widget["meta"]["architecture"] == "784-30-10" and widget["meta"]["epochs"] == 4
    assert widget["meta"]["test_name"] == "test" and widget["meta"]["layers"] == ["hidden 1", "output"]
    assert widget["measures"][0]["epoch"] == -1 and widget["measures"][-1]["epoch"] == 3
    assert len(widget["measures"][-1]["per_class"]) == 10 and len(widget["measures"][-1]["gradient_norms"]) == 2
    assert widget["filters"]["count"] == 30 and widget["filters"]["shape"] == [28, 28]
    json.dumps(view.widget.get_state(), allow_nan=False)  # what the comm sends is JSON


def test_fits_own_hooks_feed_the_view_outside_a_with_block(digits):
    """``callbacks=[view.callback], on_batch=view.on_batch``: the records are fit's own (with
    its validation accuracy), and ``finish`` makes the status final."""
    (X, y), test = digits
    net = Network([64, 20, 10], seed=0)
    view = live(net, epochs=3, interval=0.0)
    result = glassnet.fit(
        net,
        (X[:1200], y[:1200]),
        validation=(X[1200:], y[1200:]),
        test=test,
        epochs=3,
        callbacks=[view.callback],
        on_batch=view.on_batch,
    )
    assert view.widget.status["state"] == "running"
    view.finish()
    records = view.widget.records
    assert [r["validation_accuracy"] for r in records] == pytest.approx(
        [r["validation_accuracy"] for r in result.history], rel=1e-5
    )
    assert [r["correct"] for r in records] == [r["correct"] for r in result.history]
    assert view.widget.status == {"state": "finished", "message": None}
    assert view.widget.progress == {"epoch": 2, "done": 120, "total": 120}


# -- every way of training, unchanged ----------------------------------------------------------------
def book_sgd(net, data):
    (X, y), test = data
    net.SGD(list(zip(X, np.eye(10, dtype=np.float32)[y])), 3, 10, 3.0, test_data=list(zip(test[0], test[1])))


def glassnet_fit(net, data):
    (X, y), test = data
    glassnet.fit(net, (X, y), test=test, epochs=3, eta=3.0)


def training_fit(net, data):
    (X, y), test = data
    fit(net, (X, y), TrainingConfig(epochs=3, mini_batch_size=10, eta=3.0), validation=test)


def network2_sgd(net, data):
    (X, y), test = data
    net.SGD((X, y), 3, 10, 0.5, lmbda=1.0, evaluation_data=test, monitor_evaluation_accuracy=True, log=None)


def network3_sgd(net, data):
    (X, y), test = data
    net.SGD((X, y), 3, 10, 0.1, test, log=None)


def make_network3():
    return network3.Network([network3.FullyConnectedLayer(64, 20), network3.SoftmaxLayer(20, 10)], 10, seed=0)


WAYS = {
    "the book's net.SGD": (lambda: Network([64, 20, 10], seed=0), book_sgd),
    "glassnet.fit": (lambda: Network([64, 20, 10], seed=0), glassnet_fit),
    "training.fit": (lambda: Network([64, 20, 10], seed=0), training_fit),
    "network2's SGD": (lambda: network2.Network([64, 20, 10], seed=0), network2_sgd),
    "network3's SGD": (make_network3, network3_sgd),
    "a conv layer network": (
        lambda: glassnet.layer_network("conv4x3:relu,pool2,fc20:relu", (1, 8, 8), seed=0),
        glassnet_fit,
    ),
}


def parameters(net):
    return [p.copy() for p in getattr(net, "core", net).parameters()]


@pytest.mark.parametrize("way", list(WAYS))
def test_every_way_of_training_shows_in_the_widget_and_trains_as_without_it(digits, way):
    make, train = WAYS[way]
    plain = make()
    train(plain, digits)
    net = make()
    before = list(ENGINE_CHOOSERS)
    with live(net) as view:
        assert ENGINE_CHOOSERS[0] == view.offer
        train(net, digits)
    assert ENGINE_CHOOSERS == before  # the hook is gone with the block
    for a, b in zip(parameters(plain), parameters(net)):
        np.testing.assert_array_equal(a, b)  # the very same run
    state = state_of(view)
    assert state["status"] == {"state": "finished", "message": None}
    assert [r["epoch"] for r in state["records"]] == [0, 1, 2]
    assert all(0 <= r["training_accuracy"] <= 1 for r in state["records"])
    assert state["meta"]["architecture"] == getattr(net, "core", net).describe()
    assert state["measures"][0]["epoch"] == -1 and state["measures"][-1]["epoch"] == 2
    assert state["filters"]["count"] == len(getattr(net, "core", net).first_layer_weights())
    assert state["progress"]["epoch"] == 2 and state["progress"]["done"] == state["progress"]["total"]


def test_the_book_transcript_and_history_are_unchanged(digits, capsys):
    (X, y), test = digits
    pairs = list(zip(X, np.eye(10, dtype=np.float32)[y]))
    plain = Network([64, 20, 10], seed=0)
    plain.SGD(pairs, 3, 10, 3.0, test_data=list(zip(test[0], test[1])))
    printed = capsys.readouterr().out
    net = Network([64, 20, 10], seed=0)
    with live(net, test=test) as view:
        assert net.SGD(pairs, 3, 10, 3.0, test_data=list(zip(test[0], test[1]))) is None
    assert capsys.readouterr().out == printed
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in net.history] == [
        {k: v for k, v in r.items() if k != "seconds"} for r in plain.history
    ]
    assert [r["correct"] for r in view.widget.records] == [r["correct"] for r in net.history]
    assert printed.startswith("Epoch 0: ") and view.widget.meta["test_name"] == "test"


def test_the_estimator_shows_the_network_its_fit_makes(digits):
    sklearn = pytest.importorskip("glassnet.sklearn")
    (X, y), test = digits
    plain = sklearn.GlassnetClassifier(random_state=0, max_iter=4).fit(X, y)
    clf = sklearn.GlassnetClassifier(random_state=0, max_iter=4)
    with live(clf, test=test, dataset="digits") as view:
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(test[0]), plain.predict_proba(test[0]))
    assert len(view.widget.records) == clf.n_iter_ == 4
    assert view.widget.meta["architecture"] == clf.network_.describe() == "64-100-10"
    assert view.widget.records[-1]["correct"] == int(np.sum(clf.predict(test[0]) == test[1]))


def test_only_the_watched_network_is_shown(digits):
    (X, y), test = digits
    watched, other = Network([64, 20, 10], seed=0), Network([64, 12, 10], seed=1)
    with live(watched) as view:
        glassnet.fit(other, (X, y), epochs=2, eta=3.0)
        glassnet.fit(watched, (X, y), epochs=1, eta=3.0)
    assert view.widget.meta["architecture"] == "64-20-10" and len(view.widget.records) == 1


def test_an_interrupted_or_failed_run_says_so_and_the_hook_is_gone(digits):
    (X, y), _ = digits
    before = list(ENGINE_CHOOSERS)

    def interrupt(network, record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), live(Network([64, 20, 10], seed=0)) as view:
        glassnet.fit(view.network, (X, y), epochs=5, eta=3.0, callbacks=[interrupt])
    assert view.widget.status["state"] == "interrupted" and len(view.widget.records) == 1
    assert ENGINE_CHOOSERS == before

    def fail(network, record):
        raise ValueError("a bug in a callback")

    with pytest.raises(ValueError), live(Network([64, 20, 10], seed=0)) as failed:
        glassnet.fit(failed.network, (X, y), epochs=5, eta=3.0, callbacks=[fail])
    assert failed.widget.status == {"state": "failed", "message": "ValueError: a bug in a callback"}
    assert ENGINE_CHOOSERS == before
    with live(Network([64, 20, 10], seed=0)) as idle:
        pass
    assert idle.widget.status["state"] == "finished" and "nothing was trained" in idle.widget.status["message"]
    with pytest.raises(RuntimeError, match="one run"), idle:
        pass


def test_the_widget_is_an_anywidget_with_its_own_module_and_styles():
    cls = widget_module.widget_class()
    assert cls is widget_module.TrainingView and cls.__name__ == "TrainingView"
    view = cls()
    assert "export default { render }" in view._esm and "model.on(`change:${key}`" in view._esm
    assert ".glassnet-live" in view._css
    assert set(KEYS) <= set(view.keys)
    assert (widget_module.STATIC / "widget.js").is_file() and (widget_module.STATIC / "widget.css").is_file()
    shown = live(Network([4, 3, 2]))  # display(view) shows its widget
    bundle = shown._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == shown.widget.model_id


def test_without_anywidget_the_module_imports_and_says_what_to_install(monkeypatch):
    monkeypatch.setattr(widget_module, "_WIDGET_CLASS", None)
    monkeypatch.setitem(sys.modules, "anywidget", None)  # import anywidget -> ImportError
    with pytest.raises(ImportError, match=re.escape('pip install "glassnet[notebook]"')):
        LiveView(Network([4, 3, 2]))


def test_live_refuses_what_it_cannot_watch():
    with pytest.raises(TypeError, match="watches a network or an estimator, got str"):
        live("784-30-10")
    with pytest.raises(ValueError, match="monitor >= 1"):
        live(monitor=0)


# -- a model shows itself: _repr_html_ ---------------------------------------------------------------
def picture(html):
    """The PNG of the first layer in a model's HTML, decoded: (width, height), RGB pixels."""
    found = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert found, html[:400]
    image = Image.open(io.BytesIO(base64.b64decode(found.group(1))))
    image.load()
    assert image.format == "PNG" and image.mode == "RGB"
    return image.size, np.asarray(image)


def test_a_network_shows_its_layers_parameters_and_first_layer():
    net = Network([784, 30, 10], seed=0)
    net.weights[0][0] = np.where(np.arange(784) % 28 < 14, 1.0, -1.0)  # neuron 0: left half +, right half -
    html = net._repr_html_()
    for text in ("784-30-10", "hidden 1", "output", "30\u00d7784", "23,550", "310", "23,860 parameters", "sigmoid"):
        assert text in html
    size, pixels = picture(html)
    assert size == (6 * 29 + 1, 5 * 29 + 1)  # 30 tiles of 28x28, 6 a row, one pixel apart
    assert tuple(pixels[1, 1]) == (220, 38, 38)  # tile 0's top left: a positive weight, red
    assert tuple(pixels[1, 28]) == (37, 99, 235)  # its top right: negative, blue
    assert tuple(pixels[0, 0]) == (214, 214, 214)  # the line between tiles


def test_a_layer_network_shows_its_filters():
    net = glassnet.layer_network("conv20x5:relu,pool2,fc100:relu", seed=0)
    html = net._repr_html_()
    for text in (
        "conv 20 5x5 / pool 2",
        "fc 100",
        "softmax 10",
        "20\u00d712\u00d712",
        "20\u00d71\u00d75\u00d75",
        "520",
        "288,100",
        "1,010",
        "289,630 parameters",
        "the mean over input channels",
    ):
        assert text in html
    size, _ = picture(html)
    assert size == (5 * 16 + 1, 4 * 16 + 1)  # 20 kernels 5x5 enlarged 3x: 15x15 tiles, 5 a row


def test_an_ensemble_network2_and_network3_show_themselves():
    members = [Network([784, 30, 10], seed=0), Network([784, 20, 10], seed=1)]
    html = Ensemble(members)._repr_html_()
    for text in (
        "ensemble of 2",
        "member 0",
        "member 1",
        "784-30-10",
        "23,860",
        "15,910",
        "39,770 parameters",
        "member 0&#x27;s first layer",
    ):
        assert text in html
    assert picture(html)[0] == (175, 146)  # member 0's 30 neurons
    book = network2.Network([784, 30, 10], seed=0)
    html = book._repr_html_()
    assert "784-30-10" in html and "23,860 parameters" in html and picture(html)[0] == (175, 146)
    three = network3.Network([network3.FullyConnectedLayer(784, 100), network3.SoftmaxLayer(100, 10)], 10, seed=0)
    html = three._repr_html_()
    assert "fc 100" in html and "78,500" in html and picture(html)[0] == (10 * 29 + 1, 10 * 29 + 1)


def test_the_core_defines_no_html_the_views_give_it():
    core = os.path.join(os.path.dirname(glassnet.__file__), "core")
    for name in os.listdir(core):
        if name.endswith(".py"):
            with open(os.path.join(core, name), encoding="utf-8") as f:
                assert "_repr_html_" not in f.read(), name
    classes = views_html.show_in_notebooks()
    assert {c.__name__ for c in classes} == {"Network", "LayerNetwork", "Ensemble"} and len(classes) == 4
    assert all(c._repr_html_ is classes[0]._repr_html_ for c in classes)


def test_png_encodes_what_it_is_given_and_refuses_what_is_not_an_image():
    rgb = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    decoded = Image.open(io.BytesIO(views_html.png(rgb)))
    np.testing.assert_array_equal(np.asarray(decoded), rgb)
    with pytest.raises(ValueError, match=r"\(h, w, 3\) image"):
        views_html.png(np.zeros((4, 4)))
