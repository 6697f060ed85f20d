"""Shared fixtures. Tests never touch the user's real caches unless they are the slow real-model tests."""

from __future__ import annotations

import pytest

from rag.settings import Settings


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Settings pointing every writable folder at a temporary directory."""
    for key in list(__import__("os").environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    return Settings(models_dir=tmp_path / "models", cache_dir=tmp_path / "cache",
                    index_dir=tmp_path / "index", _env_file=None)


@pytest.fixture(scope="session")
def real_settings() -> Settings:
    """The machine's settings: real models dir (filled by `make models`)."""
    return Settings(_env_file=None)
