"""The live view inside a notebook, end to end: JupyterLab run headless on 127.0.0.1, a notebook
that trains the digits, and Debian's Chromium (through Playwright) watching the widget's front end
(``glassnet/web/static/widget.js``, loaded by anywidget's JupyterLab extension) update while the
cell still runs; a model left as a cell's last expression shows its HTML (``_repr_html_``).

Needs JupyterLab and anywidget (the test extra has both; JupyterLab serves its own prebuilt
pages: nothing is fetched), Debian's /usr/bin/chromium, the Python package playwright (never its
own browsers), Flask (``glassnet.web``) and scikit-learn (the digits).  Without them the module is
skipped, except under CI, where it fails.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, importable, require, require_browser

require_browser()
require(
    importable("jupyterlab") and importable("anywidget"),
    'the notebook front end needs JupyterLab and anywidget: pip install -e ".[test]"',
)
require(importable("sklearn"), "the digits need scikit-learn")

from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.browser]

EPOCHS = 12
CELLS = [
    # 0: the data and a network, left as the cell's value: its _repr_html_
    "import time\n"
    "import numpy as np\n"
    "import glassnet\n"
    "from sklearn.datasets import load_digits\n"
    "from glassnet.web.widget import live\n"
    "digits = load_digits()\n"
    "X, y = (digits.data / 16).astype(np.float32), digits.target\n"
    "net = glassnet.Network([64, 30, 10], seed=0)\n"
    "net",
    # 1: glassnet.fit inside the view, slowed to 0.4 s an epoch so that the page can watch it run
    "def slow(network, record):\n"
    "    time.sleep(0.4)\n"
    "\n"
    f"with live(net, test=(X[1400:], y[1400:]), epochs={EPOCHS}, dataset='digits'):\n"
    f"    glassnet.fit(net, (X[:1400], y[:1400]), epochs={EPOCHS}, eta=3.0, callbacks=[slow])",
    # 2: the book's net.SGD inside the view, its transcript as printed
    "book = glassnet.Network([64, 30, 10], seed=1)\n"
    "with live(book, epochs=20, dataset='digits'):\n"
    "    book.SGD((X[:1400], y[:1400]), 20, 10, 3.0, test_data=(X[1400:], y[1400:]))",
]


def notebook(cells):
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a folder with the notebook, on 127.0.0.1 without a token; its own
    config, data, runtime and settings folders (nothing of the user's is read or written)."""
    home = tmp_path_factory.mktemp("lab")
    root = home / "notebooks"
    root.mkdir()
    (root / "live.ipynb").write_text(json.dumps(notebook(CELLS)))
    folders = {
        "JUPYTER_CONFIG_DIR": "config",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTER_RUNTIME_DIR": "runtime",
        "IPYTHONDIR": "ipython",
        "JUPYTERLAB_SETTINGS_DIR": "settings",
        "JUPYTERLAB_WORKSPACES_DIR": "work",
    }
    env = dict(os.environ, **{name: str(home / folder) for name, folder in folders.items()})
    port = free_port()
    log = open(home / "lab.log", "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--port-retries=0",
            "--ServerApp.ip=127.0.0.1",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url + "/api/status", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (home / "lab.log").read_text()[-3000:])
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


@pytest.fixture(scope="module")
def page(lab):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.problems = []
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        page.on(
            "console",
            lambda m: (
                m.type == "error" and ("glassnet" in m.text or "anywidget" in m.text) and page.problems.append(m.text)
            ),
        )
        page.goto(lab + "/lab/tree/live.ipynb")
        page.wait_for_function(
            "() => window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')", timeout=90_000
        )
        run_all_cells(page)
        yield page
        browser.close()


def run_all_cells(page):
    """Wait for the notebook's kernel to be connected and idle, then run every cell."""
    status = page.evaluate("""async () => {
        const panel = window.jupyterapp.shell.currentWidget;
        await panel.sessionContext.ready;
        const kernel = panel.sessionContext.session.kernel;
        for (let i = 0; i < 1200 && !(kernel.connectionStatus === 'connected' && kernel.status === 'idle'); i++) {
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return [kernel.connectionStatus, kernel.status];
    }""")
    assert status == ["connected", "idle"], status
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def snapshot(page, n=0):
    """(state, records, accuracy-chart points, the training cell's prompt, filter pixels' epoch) of
    the n-th live view on the page, or None before it is drawn."""
    return page.evaluate(
        """(n) => {
        const view = document.querySelectorAll('.glassnet-live')[n];
        if (!view) return null;
        const prompts = Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))
            .map((e) => e.textContent.trim());
        const points = view.querySelector('[data-part="accuracy-chart"]').dataset.points;
        const filters = view.querySelector('[data-part="filters"]');
        return [view.dataset.state, Number(view.dataset.records), Number(points || 0), prompts[1 + n],
                filters.dataset.epoch || null];
    }""",
        n,
    )


def test_the_widget_updates_while_the_notebook_trains(page):
    seen, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        now = snapshot(page)
        if now is not None and (not seen or now != seen[-1]):
            seen.append(now)
        if now is not None and now[0] == "finished":
            break
        page.wait_for_timeout(60)
    assert seen and seen[-1][:3] == ["finished", EPOCHS, EPOCHS], seen
    during = {records for state, records, points, prompt, _ in seen if state == "running" and prompt == "[*]:"}
    assert len({r for r in during if 0 < r < EPOCHS}) >= 3, seen  # curves drawn epoch by epoch as it ran
    assert all(points == records for _, records, points, _, _ in seen if records)
    epochs_drawn = {epoch for *_, epoch in seen if epoch is not None}
    assert len(epochs_drawn) >= 3, seen  # the weights redrawn as they learn

    view = page.locator(".glassnet-live").first
    expect(view.locator('[data-part="epoch"]')).to_have_text(f"{EPOCHS} of {EPOCHS} epochs done")
    expect(view.locator('[data-part="accuracy"]')).to_contain_text("test accuracy")
    expect(view.locator('[data-part="run"]')).to_have_text("64-30-10 \u00b7 on digits")
    expect(view.locator('[data-part="speed-legend"] li')).to_have_text(["hidden 1", "output"])
    expect(view.locator('[data-part="classes-title"]')).to_have_text("Accuracy on each digit")
    assert view.locator('[data-part="filters"]').get_attribute("data-count") == "30"
    assert int(view.locator('[data-part="classes"]').get_attribute("data-columns")) >= 2
    assert int(view.locator('[data-part="speed"]').get_attribute("data-points")) >= 2 * 2
    assert int(view.locator('[data-part="cost-chart"]').get_attribute("data-points")) == EPOCHS
    inked = view.evaluate("""(v) => {
        const c = v.querySelector('[data-part="classes"]');
        return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((x, i) => i % 4 === 3 && x)
            .length; }""")
    assert inked > 2000
    assert page.problems == []


def test_the_books_sgd_shows_in_a_second_view_with_its_transcript(page):
    deadline = time.monotonic() + 60
    while (snapshot(page, 1) or [None])[0] != "finished":
        assert time.monotonic() < deadline, snapshot(page, 1)
        page.wait_for_timeout(100)
    book = page.locator(".glassnet-live").nth(1)
    expect(book.locator('[data-part="epoch"]')).to_have_text("20 of 20 epochs done")
    expect(book.locator('[data-part="accuracy"]')).to_contain_text("training accuracy")
    transcript = page.locator(".jp-CodeCell").nth(2).locator(".jp-OutputArea-output pre").first
    expect(transcript).to_contain_text("Epoch 0: ")
    expect(transcript).to_contain_text("Epoch 19: ")
    assert page.problems == []


def test_a_model_shows_its_layers_and_first_layer_weights(page):
    model = page.locator(".glassnet-model").first
    expect(model).to_contain_text("64-30-10")
    expect(model.locator("tbody tr")).to_have_count(3)  # hidden 1, output, total
    expect(model.locator("tbody tr").first).to_contain_text("hidden 1")
    expect(model.locator("tbody tr").first).to_contain_text("1,950")
    # 30 tiles of 8x8 weights, enlarged twice, 6 a row and 5 rows, one pixel apart
    size = model.locator("img").evaluate("(img) => [img.complete, img.naturalWidth, img.naturalHeight]")
    assert size == [True, 6 * 17 + 1, 5 * 17 + 1]
