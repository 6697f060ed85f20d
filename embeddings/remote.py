"""Embeddings from a server speaking the OpenAI-compatible ``/v1/embeddings`` API: llama.cpp's server,
vLLM, Hugging Face TEI and Infinity all do. For a corpus too big to embed on one box, or several API
workers that should not each hold the model.

The strings sent are exactly the local encoder's (``embeddings.encoder``): questions under EmbeddingGemma's
query prompt, passages as ``title: … | text: …``, so a server must embed them as given (llama.cpp's
server does; it adds no prompt of its own). Vectors are L2-normalised here whatever the server does.

Failures say what to do: a server that is down is retried with backoff, then reported with its address;
a reply with the wrong number of vectors or vectors of the wrong size is refused, never indexed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from embeddings.encoder import QUERY_MAX_CHARS

# EmbeddingGemma's query prompt (config_sentence_transformers.json of the model); passages carry theirs in
# ``document_inputs``.
QUERY_PROMPT = "task: search result | query: "
RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


class EmbeddingServerError(RuntimeError):
    """The embedding server is unreachable or answered something unusable; the message says which."""


class RemoteEncoder:
    def __init__(self, base_url: str, model: str = "embeddinggemma-300m", api_key: str | None = None,
                 dim: int | None = None, batch_size: int = 32, retries: int = 4, backoff_s: float = 0.5,
                 timeout_s: float = 120.0, query_prompt: str = QUERY_PROMPT, transport=None):
        import httpx

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.batch_size = batch_size
        self.retries = retries
        self.backoff_s = backoff_s
        self.query_prompt = query_prompt
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers,
                                    timeout=httpx.Timeout(timeout_s, connect=5.0), transport=transport)
        # The server says how long its vectors are; a configured size is checked against it.
        probe = self._post(["dimension probe"])[0]
        if dim is not None and len(probe) != dim:
            raise EmbeddingServerError(
                f"embedding server {self.base_url} returns {len(probe)}-dim vectors for model {model!r}, "
                f"but {dim} were expected; point RAG_EMBEDDING_BASE_URL at a server of the same model")
        self.dim = len(probe)
        # The cache and the index manifest key on this: vectors of another server model are never mixed in.
        self.model_id = f"remote:{model}"

    def _post(self, inputs: list[str]) -> list[list[float]]:
        """One request, retried on a dropped connection or a busy server (exponential backoff)."""
        import httpx

        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self._client.post("/v1/embeddings", json={"model": self.model, "input": inputs})
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in RETRYABLE_STATUS:
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code >= 400:
                raise EmbeddingServerError(f"embedding server {self.base_url} refused the request "
                                           f"(HTTP {response.status_code}): {response.text[:300]}")
            return self._vectors(response, len(inputs))
        raise EmbeddingServerError(f"embedding server {self.base_url} is unavailable after "
                                   f"{self.retries + 1} attempts ({last}); start it, or unset "
                                   "RAG_EMBEDDING_BASE_URL to embed in-process")

    def _vectors(self, response, n: int) -> list[list[float]]:
        try:
            data = sorted(response.json()["data"], key=lambda d: d["index"])
            vectors = [d["embedding"] for d in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingServerError(f"embedding server {self.base_url} answered something that is not "
                                       f"an OpenAI embeddings reply ({exc}): {response.text[:200]}") from exc
        if len(vectors) != n:
            raise EmbeddingServerError(f"embedding server {self.base_url} returned {len(vectors)} vectors "
                                       f"for {n} inputs")
        dim = getattr(self, "dim", None) or len(vectors[0])
        if any(len(v) != dim for v in vectors):
            sizes = sorted({len(v) for v in vectors})
            raise EmbeddingServerError(f"embedding server {self.base_url} returned vectors of size {sizes}, "
                                       f"expected {dim}; is it serving another model?")
        return vectors

    def _embed(self, inputs: Sequence[str]) -> np.ndarray:
        if not inputs:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows: list[list[float]] = []
        for start in range(0, len(inputs), self.batch_size):
            rows.extend(self._post(list(inputs[start : start + self.batch_size])))
        vecs = np.asarray(rows, dtype=np.float32)
        if not np.isfinite(vecs).all():
            raise EmbeddingServerError(f"embedding server {self.base_url} returned non-finite values")
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True).clip(min=1e-12)

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        return self._embed([self.query_prompt + q[:QUERY_MAX_CHARS] for q in queries])

    @staticmethod
    def document_inputs(texts: Sequence[str], titles: Sequence[str] | None = None) -> list[str]:
        from embeddings.encoder import Encoder

        return Encoder.document_inputs(texts, titles)

    def encode_inputs(self, inputs: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._embed(inputs)

    def encode_documents(self, texts: Sequence[str], titles: Sequence[str] | None = None,
                         progress: bool = False) -> np.ndarray:
        return self.encode_inputs(self.document_inputs(texts, titles), progress=progress)

    def close(self) -> None:
        self._client.close()
