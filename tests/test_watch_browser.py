"""``glassnet train --watch`` end to end: a real run in a subprocess, its page in headless Chromium.

Needs Debian's /usr/bin/chromium and the Python package ``playwright`` (never its own
browsers), plus the ``web`` extra and scikit-learn (the digits). Without them the test is
skipped, except under CI (CI=...), where it fails: ``.ci/install-browser`` installs them.

GLASSNET_SCREENSHOT_WATCH=PATH also runs the book's MNIST run (784-30-10) and writes a
screenshot of its live page a few epochs in to PATH (docs/screenshot-watch.png).
"""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, importable, require, require_browser  # noqa: E402

from glassnet.io import load

require_browser()
require(importable("sklearn"), "the digits need scikit-learn")

from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser]


class Training:
    """``glassnet train --watch ARGS`` in a subprocess; ``url`` once it serves its page."""

    def __init__(self, *args):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "glassnet", "train", "--watch", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.err, self.url, self._ready = [], None, threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        self.out = []
        threading.Thread(target=lambda: self.out.extend(self.process.stdout), daemon=True).start()
        if not self._ready.wait(60):
            self.process.kill()
            pytest.fail("no '# watching at' line:\n" + "".join(self.err))

    def _read(self):
        for line in self.process.stderr:
            self.err.append(line)
            found = re.match(r"# watching at (http://127\.0\.0\.1:\d+/)$", line.strip())
            if found:
                self.url = found.group(1)
                self._ready.set()

    def wait(self, timeout):
        code = self.process.wait(timeout)
        time.sleep(0.1)  # the readers take the last lines
        return code

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser, url, viewport):
    page = browser.new_page(viewport=viewport)
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.goto(url)
    return page


def number(page, selector, attribute):
    value = page.locator(selector).get_attribute(attribute)
    return int(value) if value is not None else 0


def wait_until(page, condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)


def filter_pixels(page):
    return page.evaluate("""() => {
        const c = document.getElementById('filters');
        return [c.dataset.epoch, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)];
    }""")


def inked(page, canvas_id):
    """How many pixels of a chart's canvas are drawn (not transparent)."""
    return page.evaluate(f"""() => {{
        const c = document.getElementById('{canvas_id}');
        return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((v, i) => i % 4 === 3 && v > 0)
                .length;
    }}""")


def test_the_page_shows_the_run_learning_and_its_stop_button_saves_the_model(browser, tmp_path):
    model = tmp_path / "m.npz"
    run = Training(
        "--dataset",
        "digits",
        "--epochs",
        "100000",
        "--mini-batch-size",
        "20",
        "--eta",
        "0.5",
        "--log-every",
        "100",
        "--save",
        str(model),
    )
    try:
        page = open_page(browser, run.url, {"width": 1200, "height": 900})
        expect(page.locator("#run")).to_contain_text("64-30-10")
        wait_until(page, lambda: number(page, "#accuracy-chart", "data-points") >= 3)  # >= 3 epochs of curves
        assert number(page, "#cost-chart", "data-points") >= 3

        epoch, before = filter_pixels(page)  # the weights are redrawn as they change
        wait_until(page, lambda: filter_pixels(page)[0] != epoch)
        assert filter_pixels(page)[1] != before
        assert number(page, "#filters", "data-count") == 30

        wait_until(page, lambda: number(page, "#classes", "data-columns") >= 3)  # per-digit view
        wait_until(page, lambda: number(page, "#speed", "data-points") >= 3)  # per-layer view
        assert inked(page, "classes") > 2000 and inked(page, "speed") > 200
        expect(page.locator("#speed-legend li")).to_have_text(["hidden 1", "output"])

        page.click("#pause")  # pause: nothing moves, then resume
        expect(page.locator("#state")).to_have_text("paused")
        expect(page.locator("#pause")).to_have_text("Resume")
        page.wait_for_timeout(600)
        done = page.locator("#epoch").text_content()
        page.wait_for_timeout(600)
        assert page.locator("#epoch").text_content() == done
        page.click("#pause")
        expect(page.locator("#state")).to_have_text("running")

        phone = open_page(browser, run.url, {"width": 390, "height": 844})  # a phone-sized screen
        wait_until(phone, lambda: number(phone, "#accuracy-chart", "data-points") >= 3)
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390  # no sideways scroll
        for selector in ("#accuracy-chart", "#filters", "#classes", "#speed", "#stop"):
            box = phone.locator(selector).bounding_box()
            assert box["width"] > 100 and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
        phone.close()

        page.click("#stop")
        assert run.wait(30) == 0, "".join(run.err)
        expect(page.locator("#state")).to_have_text("stopped")
        expect(page.locator("#stop")).to_be_disabled()
        assert any("# stopped from the watch page" in line for line in run.err)
        net, header = load(model, with_header=True)
        assert net.sizes == [64, 30, 10] and header["stopped"] == "interrupted"
        assert 3 <= len(header["history"]) < 100000
        assert page.problems == []
    finally:
        run.kill()


def test_a_layer_network_run_shows_its_layers_and_its_filters(browser, tmp_path):
    """``--layers conv4x3,pool2,fc20``: the page names chapter 6's layers, draws the four 3x3
    filters as they learn and measures every layer's speed of learning."""
    model = tmp_path / "conv.npz"
    run = Training(
        "--dataset",
        "digits",
        "--layers",
        "conv4x3,pool2,fc20",
        "--epochs",
        "100000",
        "--mini-batch-size",
        "10",
        "--eta",
        "0.5",
        "--activation",
        "sigmoid",
        "--log-every",
        "100",
        "--save",
        str(model),
    )
    try:
        page = open_page(browser, run.url, {"width": 1200, "height": 900})
        expect(page.locator("#run")).to_contain_text("1x8x8 \u00b7 conv 4 3x3 / pool 2 \u00b7 fc 20 \u00b7 softmax 10")
        expect(page.locator("#speed-legend li")).to_have_text(["conv 4 3x3 / pool 2", "fc 20", "softmax 10"])
        expect(page.locator("#filters-caption")).to_contain_text("All 4 filters of the convolutional first layer")
        expect(page.locator("#filters-caption")).to_contain_text("3\u00d73 kernel")
        wait_until(page, lambda: number(page, "#filters", "data-count") == 4)
        assert page.evaluate(
            "() => [document.getElementById('filters').width, document.getElementById('filters').height]"
        ) == [33, 33]  # 2x2 tiles of 3x3, x5
        epoch, before = filter_pixels(page)
        wait_until(page, lambda: filter_pixels(page)[0] != epoch)  # the filters learn
        assert filter_pixels(page)[1] != before
        wait_until(page, lambda: number(page, "#classes", "data-columns") >= 3)
        wait_until(page, lambda: number(page, "#speed", "data-points") >= 3 * 3)  # three layers, 3 epochs
        page.click("#stop")
        assert run.wait(30) == 0, "".join(run.err)
        expect(page.locator("#state")).to_have_text("stopped")
        net = load(model)
        assert [type(layer).__name__ for layer in net.layers] == [
            "ConvPoolLayer",
            "FullyConnectedLayer",
            "SoftmaxLayer",
        ]
        assert page.problems == []
    finally:
        run.kill()


@pytest.mark.skipif(not os.environ.get("GLASSNET_SCREENSHOT_WATCH"), reason="set GLASSNET_SCREENSHOT_WATCH=PATH")
def test_screenshot_of_the_books_run(browser):
    """The book's run (MNIST, 784-30-10, mini-batch 10, eta 3.0) a few epochs in."""
    run = Training("--monitor-training", "10000")
    try:
        page = open_page(browser, run.url, {"width": 1200, "height": 900})
        wait_until(page, lambda: number(page, "#accuracy-chart", "data-points") >= 3 * 5, timeout=60)
        wait_until(page, lambda: number(page, "#classes", "data-columns") >= 3)
        page.wait_for_timeout(300)
        path = Path(os.environ["GLASSNET_SCREENSHOT_WATCH"])
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        page.click("#stop")
        assert run.wait(30) == 0
        assert page.problems == []
    finally:
        run.kill()


def test_the_page_comes_back_after_each_stream_with_no_gap_and_no_repeat(browser):
    """Streams that end every 0.4 s (``lifetime``): the page reconnects with Last-Event-ID each
    time, shows no "lost the connection" message, and holds every epoch exactly once."""
    import numpy as np

    from glassnet import Network
    from glassnet.training import TrainingConfig, fit
    from glassnet.web.watch import Watch
    from glassnet.web.watchapp import WatchServer

    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (200, 16)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + 2 * (X[:, 1] > 0)
    watch, net = Watch(filter_interval=0.0), Network([16, 8, 4], seed=0, cost="cross-entropy")
    watch.attach(net, test=(X, y), image_shape=(4, 4), meta={"dataset": "blobs", "epochs": 40})
    slowly = lambda network, record: time.sleep(0.08)  # ~3 s of training: several streams
    options = dict(callbacks=[watch.callback, slowly], on_batch=watch.on_batch, stop=watch.stop_event)
    trainer = threading.Thread(target=fit, args=(net, (X, y), TrainingConfig(epochs=40, eta=0.5)), kwargs=options)
    streams, cursor_from_id = [], watch.cursor_from_id
    watch.cursor_from_id = lambda text: streams.append(cursor_from_id(text)) or streams[-1]  # resumed?
    with WatchServer(watch, interval=0.02, lifetime=0.4) as server:
        page = open_page(browser, server.url, {"width": 1200, "height": 900})
        page.evaluate("""() => { window.shown = [];
            new MutationObserver(() => window.shown.push(document.getElementById('message').textContent))
                .observe(document.getElementById('message'), {childList: true, characterData: true, subtree: true});
        }""")
        trainer.start()
        trainer.join(60)
        wait_until(page, lambda: page.evaluate("run.records.length") == 40)
        assert page.evaluate("run.records.map(r => r.epoch)") == list(range(40))
        assert page.locator("#message").is_hidden() and page.evaluate("window.shown") == []
        assert len(streams) >= 4 and streams[0] is None and all(streams[1:])  # each later one resumed
        watch.finish("finished")
        wait_until(page, lambda: page.evaluate("run.status && run.status.state") == "finished")
        assert page.problems == []
        page.close()
