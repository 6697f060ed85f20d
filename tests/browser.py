"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright (no browser download).

`.ci/run` installs the Debian package when it is missing. Outside CI a machine without it skips the
browser tests with a message saying how to install it; in CI (CI=true) that is a failure instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
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
