"""What the browser tests share: Debian's Chromium, its flags, and the checks that skip (or, in
CI, fail) a browser test module whose browser, Playwright or web extra is missing."""

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def require(ok, reason):
    """Skip the calling test module unless ``ok``; in CI a missing piece is a failure."""
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the browser test (see .ci/install-browser)")
        pytest.skip(reason, allow_module_level=True)


def importable(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def require_browser():
    """Chromium, Playwright and the web extra (Flask, waitress), or skip the module."""
    require(os.path.exists(CHROMIUM), f"no {CHROMIUM} (apt-get install chromium, or bash .ci/install-browser)")
    require(importable("playwright.sync_api"), "the Python package playwright is missing (pip install playwright)")
    require(importable("flask") and importable("waitress"), "needs the web extra: pip install -e '.[web]'")
