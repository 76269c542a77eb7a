"""``glassnet serve`` end to end: a real Chromium draws a "1" on the page and reads the answer.

Needs Debian's /usr/bin/chromium and the Python package ``playwright`` (its bundled
browsers are never used or downloaded), plus the ``web`` extra. Without them the test is
skipped, except under CI (CI=...), where it fails: ``.ci/install-browser`` installs them.

GLASSNET_SCREENSHOT=PATH also writes a screenshot of the page with the "1" drawn to PATH
(docs/screenshot-serve.png); GLASSNET_SCREENSHOT_WHY=PATH one of a drawn "7" with its
"why this digit?" map (docs/screenshot-why.png); GLASSNET_SCREENSHOT_CONV=PATH one of a
convolutional network (chapter 6) reading a drawn "7", its feature maps shown
(docs/screenshot-serve-conv.png).
"""

import os
import re
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser  # noqa: E402

from glassnet import Network
from glassnet.datasets import FetchError, load_mnist
from glassnet.io import load, save

require_browser()

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from glassnet.web import Server, create_app  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.mnist]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    """A 784-30-10 trained for one epoch on real MNIST (seed 0), served on a free port."""
    try:
        mnist = load_mnist()
    except FetchError as e:
        pytest.fail(f"could not fetch MNIST: {e}")
    net = Network([784, 30, 10], seed=0)
    net.SGD((mnist.training.X, mnist.training.y), 1, 10, 3.0, test_data=(mnist.test.X, mnist.test.y), log=None)
    history = net.history
    assert history[-1]["accuracy"] > 0.85
    path = save(net, tmp_path_factory.mktemp("model") / "mnist.npz", metadata={"dataset": "mnist", "history": history})
    with Server(create_app(*load(path, with_header=True)), port=0) as server:
        yield server.url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def conv_url(tmp_path_factory):
    """Chapter 6's kind of network -- conv 8 5x5 / pool 2 (relu), fc 30 (relu), softmax 10 --
    after one epoch on 20,000 MNIST images (a few seconds), served on a free port."""
    from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
    from glassnet.training import TrainingConfig, fit

    mnist = load_mnist()
    net = LayerNetwork(
        [
            ConvPoolLayer((8, 1, 5, 5), (1, 28, 28), activation_fn="relu"),
            FullyConnectedLayer(8 * 12 * 12, 30, activation_fn="relu"),
            SoftmaxLayer(30, 10),
        ],
        seed=0,
    )
    result = fit(
        net,
        (mnist.training.X[:20000], mnist.training.y[:20000]),
        TrainingConfig(epochs=1, mini_batch_size=10, eta=0.1),
        test=(mnist.test.X, mnist.test.y),
    )
    assert result.history[-1]["accuracy"] > 0.9
    path = save(
        net, tmp_path_factory.mktemp("conv") / "conv.npz", metadata={"dataset": "mnist", "history": result.history}
    )
    with Server(create_app(*load(path, with_header=True)), port=0) as server:
        yield server.url


def open_page(browser, url, model_text):
    page = browser.new_page(viewport={"width": 1100, "height": 600})
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.goto(url)
    expect(page.locator("#model")).to_contain_text(model_text)  # /api/model answered
    return page


@pytest.fixture
def page(browser, url):
    page = open_page(browser, url, "784")
    try:
        yield page
        assert page.problems == []  # no script error, no CSP violation, no 404
    finally:
        page.close()


@pytest.fixture
def conv_page(browser, conv_url):
    page = open_page(browser, conv_url, "conv 8 5x5 / pool 2")
    try:
        yield page
        assert page.problems == []
    finally:
        page.close()


def settled(page):
    """Wait until no prediction is in flight or queued."""
    expect(page.locator("body")).to_have_attribute("data-busy", "false")


def draw(page, *points, steps=12):
    box = page.locator("#pad").bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=steps)
    page.mouse.up()
    settled(page)


def assert_blank(page):
    expect(page.locator("#prediction")).to_have_text("\u2013")
    expect(page.locator("#confidence")).to_have_text("draw something")
    expect(page.locator(".bar.top")).to_have_count(0)
    expect(page.locator("#noise-caption")).to_be_hidden()


def test_draw_a_one_then_clear_then_random_noise(page):
    assert_blank(page)
    expect(page.locator("#hidden .cell")).to_have_count(30)
    expect(page.locator("#maps-figure")).to_be_hidden()  # the book's network has no feature maps

    draw(page, (142, 40), (140, 240))  # a vertical stroke: a "1"
    expect(page.locator("#prediction")).to_have_text("1")
    expect(page.locator('.bar[data-digit="1"]')).to_have_class(re.compile(r"\btop\b"))
    expect(page.locator(".bar.top")).to_have_count(1)
    expect(page.locator("#confidence")).to_contain_text("% confident")
    assert page.locator("#hidden .cell[style*='background']").count() == 30
    shot = os.environ.get("GLASSNET_SCREENSHOT")
    if shot:
        Path(shot).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=shot)

    page.click("#clear")
    assert_blank(page)
    assert page.locator("#hidden .cell[style*='background']").count() == 0
    assert saliency_colours(page) == (0, 0)

    page.click("#random")
    settled(page)
    expect(page.locator("#pad")).to_have_class("noise")
    caption = page.locator("#noise-caption")
    expect(caption).to_be_visible()
    expect(caption).to_contain_text("not a digit")
    digit = page.locator("#prediction").text_content()
    assert digit in list("0123456789")
    expect(caption).to_contain_text(f"\u201c{digit}\u201d")
    expect(page.locator(f'.bar[data-digit="{digit}"]')).to_have_class(re.compile(r"\btop\b"))

    draw(page, (142, 40), (140, 240))  # drawing again wipes the noise
    expect(page.locator("#noise-caption")).to_be_hidden()
    expect(page.locator("#pad")).not_to_have_class("noise")
    expect(page.locator("#prediction")).to_have_text("1")


def saliency_colours(page):
    """(red, blue): how many of the map's 28x28 pixels are drawn in each colour."""
    return tuple(
        page.evaluate("""() => {
        const d = document.getElementById('saliency').getContext('2d').getImageData(0, 0, 28, 28).data;
        let red = 0, blue = 0;
        for (let i = 0; i < d.length; i += 4) {
            if (d[i] > d[i + 2] + 8) red++;
            else if (d[i + 2] > d[i] + 8) blue++;
        }
        return [red, blue];
    }""")
    )


def test_why_this_digit_colours_the_ink_of_the_drawing(page):
    draw(page, (60, 60), (220, 60), (120, 250))  # a "7"
    answer = page.locator("#prediction").text_content()
    expect(page.locator("#saliency")).to_have_attribute("data-digit", answer)
    expect(page.locator("#why-caption")).to_contain_text(f"Why \u201c{answer}\u201d?")
    expect(page.locator(f'.bar[data-digit="{answer}"]')).to_have_class(re.compile(r"\bexplained\b"))
    red, blue = saliency_colours(page)
    assert red > 20  # the ink that speaks for the answer
    ink = page.evaluate(
        "() => Array.from(document.getElementById('input').getContext('2d')"
        ".getImageData(0, 0, 28, 28).data.filter((_, i) => i % 4 === 0))"
    )
    assert red + blue <= sum(v < 255 for v in ink)  # only inked pixels are coloured
    shot = os.environ.get("GLASSNET_SCREENSHOT_WHY")
    if shot:
        Path(shot).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=shot, full_page=True)

    other = "3" if answer != "3" else "5"  # why not another digit?
    page.click(f'.bar[data-digit="{other}"]')
    settled(page)
    expect(page.locator("#saliency")).to_have_attribute("data-digit", other)
    expect(page.locator("#why-caption")).to_contain_text(f"Why not \u201c{other}\u201d?")
    expect(page.locator("#prediction")).to_have_text(answer)  # the answer itself is unchanged
    assert saliency_colours(page)[1] > 0  # some ink speaks against it
    page.click(f'.bar[data-digit="{other}"]')  # a second click: back to the answer
    settled(page)
    expect(page.locator("#saliency")).to_have_attribute("data-digit", answer)


def test_touch_strokes_draw_too(page):
    box = page.locator("#pad").bounding_box()
    pad = page.locator("#pad")

    def touch(kind, x, y):
        pad.dispatch_event(
            kind,
            {
                "pointerId": 11,
                "pointerType": "touch",
                "isPrimary": True,
                "clientX": box["x"] + x,
                "clientY": box["y"] + y,
                "bubbles": True,
                "buttons": 0 if kind == "pointerup" else 1,
            },
        )

    touch("pointerdown", 140, 40)
    for y in range(50, 250, 10):
        touch("pointermove", 140, y)
    touch("pointerup", 140, 240)
    settled(page)
    expect(page.locator("#prediction")).to_have_text("1")


@pytest.mark.parametrize(
    "strokes",
    [
        [[(60, 60), (220, 60), (120, 250)]],  # a "7": shrunk into 20x20
        [[(150, 60), (90, 160), (150, 200), (170, 150), (95, 155)]],
        [[(20, 20), (40, 34)], [(30, 20), (26, 40)]],  # a tiny mark in a corner: enlarged
    ],
)
def test_the_page_prepares_a_drawing_like_preprocess_to_mnist(page, strokes):
    """The page's JavaScript follows glassnet.datasets.preprocess.to_mnist: same 784 inputs."""
    import json

    import numpy as np

    to_mnist = pytest.importorskip("glassnet.datasets.preprocess").to_mnist
    sent = []
    page.on("request", lambda r: r.url.endswith("/api/predict") and sent.append(r.post_data))
    for points in strokes:
        draw(page, *points, steps=6)
    alpha = page.evaluate(
        "() => Array.from(document.getElementById('pad').getContext('2d')"
        ".getImageData(0, 0, 280, 280).data.filter((_, i) => i % 4 === 3))"
    )
    ink = np.array(alpha, dtype=np.float64).reshape(280, 280) / 255
    pixels = np.array(json.loads(sent[-1])["pixels"])
    assert pixels.max() == 1 and np.abs(pixels - to_mnist(ink)).max() < 1e-3  # the page rounds to 1e-4


def map_pixels(page):
    """(inked, blank): the feature-map canvas's pixels drawn grey (not the gaps between the
    tiles, grey 214) and white ones."""
    return tuple(
        page.evaluate("""() => {
        const c = document.querySelector('#maps canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let inked = 0, blank = 0;
        for (let i = 0; i < d.length; i += 4) {
            if (d[i + 3] === 0) continue;
            if (d[i] === 255 && d[i + 1] === 255 && d[i + 2] === 255) blank++;
            else if (d[i] < 250 && d[i] !== 214 && d[i] === d[i + 1] && d[i] === d[i + 2]) inked++;
        }
        return [inked, blank];
    }""")
    )


def test_a_convolutional_network_shows_its_feature_maps(conv_page):
    page = conv_page
    assert_blank(page)
    expect(page.locator("#maps-figure")).to_be_visible()
    expect(page.locator("#maps canvas")).to_have_count(1)
    expect(page.locator("#maps-caption")).to_contain_text("8 filters")
    expect(page.locator("#hidden .cell")).to_have_count(30)
    expect(page.locator("#hidden .layer-name")).to_have_text("fc 30: 30 neurons")
    canvas = page.locator("#maps canvas")
    assert (canvas.get_attribute("width"), canvas.get_attribute("height")) == ("40", "40")  # 3x3 tiles of 12x12

    draw(page, (60, 60), (220, 60), (120, 250))  # a "7"
    expect(page.locator("#prediction")).to_have_text("7")
    expect(canvas).to_have_attribute("data-drawn", "true")
    inked, blank = map_pixels(page)
    assert inked > 100 and blank > 100  # some units fire where the filters find their pattern
    assert page.locator("#hidden .cell[style*='background']").count() == 30
    red, _ = saliency_colours(page)  # why this digit, through the conv layer
    assert red > 20
    expect(page.locator("#saliency")).to_have_attribute("data-digit", "7")
    shot = os.environ.get("GLASSNET_SCREENSHOT_CONV")
    if shot:
        Path(shot).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=shot, full_page=True)

    page.click("#clear")
    assert_blank(page)
    expect(canvas).not_to_have_attribute("data-drawn", "true")
