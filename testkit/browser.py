"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright (no browser download).

`.ci/run` installs the Debian package when it is missing. Outside CI a machine without it skips the
browser tests with a message saying how to install it; in CI (CI=true) that is a failure instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "tests" / "artifacts"
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def chromium_path() -> str:
    found = os.environ.get("RAG_TEST_CHROMIUM") or shutil.which("chromium") or next(
        (c for c in CANDIDATES if Path(c).is_file()), None)
    if found:
        return found
    message = "no Chromium found: `apt-get install -y chromium` (or set RAG_TEST_CHROMIUM=/path/to/chrome)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                      args=["--no-sandbox", "--disable-dev-shm-usage"])


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


def offline_context(browser, base_url: str, **kwargs):
    """A browser context that can reach only our server: anything else is blocked and recorded."""
    context = browser.new_context(**kwargs)
    context.outside = []

    def guard(route):
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            context.outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    return context


@contextlib.contextmanager
def chat_page(browser, base_url: str, **kwargs):
    """The chat page, ready, in an offline desktop context with the clipboard allowed."""
    kwargs.setdefault("viewport", {"width": 1280, "height": 860})
    context = offline_context(browser, base_url, locale="zh-CN", **kwargs)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base_url + "/")
    page.wait_for_selector("#status.ready", timeout=10_000)
    yield page
    context.close()
    assert not errors, errors  # no JavaScript errors on the way
    assert not context.outside, context.outside  # works offline: nothing fetched from elsewhere


def ask(page, question: str) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")
