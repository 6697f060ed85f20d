"""Shared fixtures. Tests never touch the user's real caches unless they are the slow real-model tests."""

from __future__ import annotations

import pytest

from rag.config import Settings


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Settings pointing every writable folder at a temporary directory."""
    for key in list(__import__("os").environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    return Settings(models_dir=tmp_path / "models", cache_dir=tmp_path / "cache",
                    index_dir=tmp_path / "index", library_dir=tmp_path / "library", _env_file=None)


@pytest.fixture(scope="session")
def real_settings() -> Settings:
    """The machine's settings: real models dir (filled by `make models`)."""
    return Settings(_env_file=None)


class FakeEncoder:
    """Deterministic stand-in for the embedding model: hashed character bigrams, L2-normalised.

    Texts sharing bigrams get similar vectors, so rankings can be checked by hand; no model is loaded.
    """

    dim = 64
    model_id = "fake-bigrams:1"

    def __init__(self):
        self.calls = 0  # how many texts were embedded

    def _vec(self, text: str):
        import itertools
        import zlib

        import numpy as np

        v = np.zeros(self.dim, dtype=np.float32)
        for a, b in itertools.pairwise(text):
            v[zlib.crc32((a + b).encode()) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def document_inputs(self, texts, titles=None):
        titles = titles or ["none"] * len(texts)
        return [f"title: {t} | text: {x}" for t, x in zip(titles, texts, strict=True)]

    def encode_inputs(self, inputs, progress=False):
        import numpy as np

        self.calls += len(inputs)
        return np.stack([self._vec(x) for x in inputs]) if inputs else np.zeros((0, self.dim), np.float32)

    def encode_documents(self, texts, titles=None, progress=False):
        return self.encode_inputs(self.document_inputs(texts, titles))

    def encode_queries(self, queries):
        return self.encode_inputs(list(queries))


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
    from tests.fake_service import build_fake_retriever

    return build_fake_retriever(real_corpus)


@pytest.fixture
def fake_service(real_corpus, fake_retriever):
    from tests.fake_service import FakeAnswerService

    return FakeAnswerService(real_corpus, fake_retriever)
