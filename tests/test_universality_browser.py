"""The chapter-4 page (``glassnet universality``) in headless Chromium: drag a step, set a bump's
height, draw f with the mouse, press "learn" and watch the learned curve change, paint the towers.

Needs Debian's /usr/bin/chromium, the Python package ``playwright`` (never its own browsers)
and the ``web`` extra; skipped without them, except under CI.
"""

import re

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser  # noqa: E402

require_browser()

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from glassnet.web.server import Server  # noqa: E402
from glassnet.web.universality import Learner, create_app  # noqa: E402

pytestmark = pytest.mark.browser

#: the page's plot margins (universality.js ``frame``): top, right, bottom, left, in CSS pixels
MARGIN = (10, 12, 22, 36)
DIGIT = re.compile(r"\d")


@pytest.fixture(scope="module")
def url():
    learner = Learner(max_seconds=60, interval=0.1)
    server = Server(create_app(learner), port=0).start()
    yield server.url
    learner.stop()
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.posted = []
    page.on(
        "request", lambda r: r.method == "POST" and page.posted.append((r.url.rsplit("/", 2)[-1], r.post_data_json))
    )
    page.goto(url)
    expect(page.locator("#err-max")).to_have_text(DIGIT)  # the first construction arrived
    yield page
    page.close()


def at(page, selector, x, y, x_range=(0, 1), y_range=(0, 1)):
    """Where the data point (x, y) of a plot is on the screen."""
    box = page.locator(selector).bounding_box()
    top, right, bottom, left = MARGIN
    u = (x - x_range[0]) / (x_range[1] - x_range[0])
    v = (y - y_range[0]) / (y_range[1] - y_range[0])
    return (
        box["x"] + left + u * (box["width"] - left - right),
        box["y"] + top + (1 - v) * (box["height"] - top - bottom),
    )


def drag(page, start, end, steps=12):
    """Press at start, move to end, let go; then wait until the page has its answers."""
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=steps)
    page.mouse.up()
    expect(page.locator("body")).to_have_attribute("data-busy", "false")


def number(page, selector):
    return float(page.locator(selector).text_content().replace("\u2212", "-"))


def test_drag_a_step_and_set_a_bumps_height(page):
    y_range = (-1.1, 1.1)
    assert page.locator("#n1-s").text_content() == "0.300"
    drag(page, at(page, "#step", 0.3, -0.8, y_range=y_range), at(page, "#step", 0.5, -0.8, y_range=y_range))
    s = number(page, "#n1-s")
    assert s == pytest.approx(0.5, abs=0.01)
    assert number(page, "#n1-b") == pytest.approx(-number(page, "#n1-w") * s, rel=0.01)  # s = -b/w
    assert page.locator("#n2-s").text_content() == "0.700"  # the other stays
    drag(page, at(page, "#step", 0.6, 0.6, y_range=y_range), at(page, "#step", 0.6, -0.5, y_range=y_range))
    assert number(page, "#n1-v") == pytest.approx(-0.5, abs=0.02)
    assert number(page, "#n2-v") == pytest.approx(0.5, abs=0.02)
    page.locator("#step-weight").fill("3")  # w = 1000
    assert number(page, "#n1-w") == 1000 and number(page, "#n1-b") == pytest.approx(-1000 * s, rel=0.01)
    assert page.problems == []


def test_draw_f_and_the_construction_follows(page):
    drag(page, at(page, "#draw", 0.0, 0.5), at(page, "#draw", 1.0, 0.5), steps=40)
    tiny = re.compile(r"^(0|[\d.]+e-\d+)$")  # below 0.001: "0" or "7.0e-6"
    expect(page.locator("#err-max")).to_have_text(tiny)  # a constant is built exactly
    sent = [body for name, body in page.posted if name == "construct"][-1]
    assert len(sent["f"]) == 201 and all(abs(v - 0.5) < 0.01 for v in sent["f"])
    drag(page, at(page, "#draw", 0.0, 0.2), at(page, "#draw", 1.0, 0.8), steps=40)  # a ramp
    expect(page.locator("#err-max")).not_to_have_text(tiny)
    sent = [body for name, body in page.posted if name == "construct"][-1]
    assert sent["f"][0] == pytest.approx(0.2, abs=0.02) and sent["f"][200] == pytest.approx(0.8, abs=0.02)
    assert sent["f"][100] == pytest.approx(0.5, abs=0.02)
    assert number(page, "#err-max") < 0.02
    page.locator("#bumps").fill("5")
    expect(page.locator("#hidden-count")).to_have_text("10")
    expect(page.locator("body")).to_have_attribute("data-busy", "false")
    assert page.problems == []


def learned_image(page):
    return page.evaluate("() => document.getElementById('learned').toDataURL()")


def test_learn_shows_the_learned_curve_as_it_trains(page):
    page.locator("#bumps").fill("10")
    expect(page.locator("#hidden-count")).to_have_text("20")
    page.locator("#epochs").fill("12000")
    blank = learned_image(page)
    page.click("#learn")
    expect(page.locator("#learn-state")).to_have_text("running")
    images, epochs = [], []
    while page.locator("#learn-state").text_content() == "running" and len(images) < 200:
        images.append(learned_image(page))
        epochs.append(page.locator("#learn-epoch").text_content())
        page.wait_for_timeout(100)
    expect(page.locator("#learn-state")).to_have_text("finished", timeout=60_000)
    drawn = {image for image in images if image != blank}
    assert len(drawn) >= 2, "the learned curve never changed while training"
    seen = [int(m.group(1).replace(",", "")) for e in epochs if (m := re.match(r"epoch ([\d,]+) of", e))]
    assert len(set(seen)) >= 2 and seen == sorted(seen)
    expect(page.locator("#learn-epoch")).to_contain_text("epoch 12,000 of 12,000")
    expect(page.locator("#learned-summary")).to_contain_text("steps outside [0, 1]")
    expect(page.locator("#proof-summary")).to_contain_text("20 hidden neurons, every w = 1000")
    assert learned_image(page) != blank
    sent = [body for name, body in page.posted if name == "learn"][-1]
    assert sent["bumps"] == 10 and sent["epochs"] == 12000 and len(sent["f"]) == 201
    assert page.problems == []


def test_the_towers_view(page):
    page.click("#tab-two")
    expect(page.locator("#view-two")).to_be_visible()
    expect(page.locator("#err2-max")).to_have_text(DIGIT)
    expect(page.locator("#sizes2")).to_contain_text("2\u201320\u2013100\u20131")
    before = [body for name, body in page.posted if name == "towers"][-1]["f"]
    box = page.locator("#target2").bounding_box()
    drag(
        page,
        (box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2),
        (box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3),
    )
    after = [body for name, body in page.posted if name == "towers"][-1]["f"]
    assert len(after) == 41 * 41 and after != before
    assert max(after[8 * 41 + 32], after[10 * 41 + 30]) > 0.6  # painted near (0.2-0.3, 0.7-0.8)
    page.select_option("#method", "towers")
    expect(page.locator("#sizes2")).to_contain_text("2\u201340\u2013100\u20131")
    assert page.problems == []
