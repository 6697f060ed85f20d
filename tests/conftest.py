"""Shared fixtures, and the test tiers. Tests never touch the user's real caches unless they are the slow
real-model tests. Helpers and fakes that tests import live in modules beside this one (testkit/fakes.py …):
nothing imports conftest.

Every test belongs to exactly one tier (docs/testing.md):

* ``unit``: no model weights, no server, no subprocess, no browser, no network socket — every test not
  marked otherwise. While one runs, starting a process or opening an internet socket fails it, so a unit
  test that needs one says so with ``@pytest.mark.integration``;
* ``integration``: a real uvicorn server, subprocesses (kill -9 included) or the browser, with the fakes;
* ``slow``: the real embedding model and GGUF, full-corpus index builds, or minutes of work.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from rag.config import Settings
from testkit.fakes import FakeEncoder

TIERS = ("unit", "integration", "slow")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tiers = [t for t in TIERS if item.get_closest_marker(t) is not None]
        if not tiers:
            item.add_marker(pytest.mark.unit)
        elif len(tiers) > 1:
            raise pytest.UsageError(f"{item.nodeid} is marked {' and '.join(tiers)}: a test has one tier")


def _refused(what: str):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a unit test {what}; mark the test @pytest.mark.integration "
                             "(tests/conftest.py, docs/testing.md)")
    return refuse


def _inet_only(real, what: str):
    def guarded(sock: socket.socket, *args, **kwargs):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            _refused(what)()
        return real(sock, *args, **kwargs)
    return guarded


@contextmanager
def _unit_guard(item: pytest.Item) -> Iterator[None]:
    """While a unit test (its fixtures too) runs: no processes, no internet sockets (local pipes and
    AF_UNIX sockets, which event loops use, stay allowed)."""
    if item.get_closest_marker("unit") is None:
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(subprocess.Popen, "_execute_child", _refused("started a subprocess"))
        mp.setattr(os, "fork", _refused("forked"))
        mp.setattr(os, "system", _refused("ran a shell command"))
        for name in ("connect", "connect_ex"):
            mp.setattr(socket.socket, name, _inet_only(getattr(socket.socket, name), "opened a connection"))
        mp.setattr(socket.socket, "bind", _inet_only(socket.socket.bind, "bound a network port"))
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    with _unit_guard(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    with _unit_guard(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    with _unit_guard(item):
        return (yield)


_TIER_TIME: dict[str, list[float]] = {t: [] for t in TIERS}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Setup, call and teardown all count: a session fixture's load is paid by its tier's first test.
    tier = next((t for t in TIERS if t in report.keywords), None)
    if tier is not None:
        times = _TIER_TIME[tier]
        if report.when == "setup":
            times.append(0.0)
        if times:
            times[-1] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The time each tier took in this run (the figures docs/testing.md quotes come from here)."""
    if not any(_TIER_TIME.values()):
        return
    terminalreporter.section("time per tier")
    for tier, times in _TIER_TIME.items():
        if times:
            terminalreporter.write_line(f"{tier:12} {len(times):4d} tests {sum(times):8.1f} s")


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Settings pointing every writable folder at a temporary directory."""
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    return Settings(models_dir=tmp_path / "models", cache_dir=tmp_path / "cache",
                    index_dir=tmp_path / "index", library_dir=tmp_path / "library", _env_file=None)


@pytest.fixture(scope="session")
def real_settings() -> Settings:
    """The machine's settings: real models dir (filled by `make models`)."""
    return Settings(_env_file=None)


@pytest.fixture(scope="session")
def real_service(real_settings):
    """The real answer service — the bundled corpus's index (var/index, built by `make index` before the
    tests), EmbeddingGemma and the GGUF — loaded once per test run and shared by the slow tests."""
    from rag.app import open_answer_service

    svc = open_answer_service(real_settings)
    svc.warm_up()
    return svc


@pytest.fixture(scope="session")
def real_index_dir(real_service, real_settings):
    """The folder of the bundled corpus's built index. A test that starts `rag serve` over a scratch index
    folder copies it there (8 MB) instead of having the server rebuild it from the embedding cache."""
    return real_settings.index_dir


@pytest.fixture(scope="session")
def real_encoder(real_service):
    """The real embedding model, as the service loaded it."""
    return real_service.retriever.encoder


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture(scope="session")
def real_corpus():
    from rag.config import PROJECT_ROOT
    from rag.corpus import load_corpus

    return load_corpus(PROJECT_ROOT / "data")


@pytest.fixture(scope="session")
def fake_retriever(real_corpus):
    """Real chunks and BM25 over the bundled corpus, with the fake encoder (built once, ~2 s)."""
    from testkit.fakes import build_fake_retriever

    return build_fake_retriever(real_corpus)


@pytest.fixture
def fake_service(real_corpus, fake_retriever):
    from testkit.fakes import FakeAnswerService

    return FakeAnswerService(real_corpus, fake_retriever)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (testkit/browser.py), one per test module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from testkit.browser import launch_browser

    with sync_api.sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()
