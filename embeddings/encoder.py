"""A thin encoder over sentence-transformers for EmbeddingGemma, loaded offline from the models dir.

EmbeddingGemma is trained with task prompts: questions go through its ``query`` prompt and passages
through ``title: {title} | text: {text}``; the title slot carries the report title / section path.
Vectors are L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import gc
import hashlib
import os
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

QUERY_MAX_CHARS = 256  # questions are 10–100 characters; see Encoder.encode_queries

# Never let transformers or huggingface_hub reach for a hub: there is none.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def model_fingerprint(model_path: Path) -> str:
    """Identifies an embedding model without loading it: folder name + configs + weights size.

    Used as the embedding cache key prefix and in the index manifest (a changed model means stale).
    """
    h = hashlib.sha256()
    for name in ("config.json", "modules.json", "config_sentence_transformers.json"):
        f = model_path / name
        if f.is_file():
            h.update(f.read_bytes())
    weights = model_path / "model.safetensors"
    h.update(str(weights.stat().st_size if weights.is_file() else 0).encode())
    return f"{model_path.name}:{h.hexdigest()[:12]}"


def cpu_has_bf16() -> bool:
    """True when the CPU does bf16 matrix maths natively (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="ignore")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _trim_heap() -> None:
    """Give freed heap pages back to the OS (glibc keeps them otherwise, and RSS would not drop)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the process reuses the memory instead
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class ModelNotFound(FileNotFoundError):
    """No sentence-transformers model at the path; the app turns this into the project's ModelMissing."""


class Encoder:
    def __init__(self, model_path: Path, threads: int = 2, batch_size: int = 16,
                 bf16_queries: bool | None = None):
        if not (model_path / "modules.json").is_file():
            raise ModelNotFound(
                f"embedding model not found at {model_path}; run `make models` (or `rag models fetch`)"
            )
        import torch

        torch.set_num_threads(threads)
        self.model_path = model_path
        self.batch_size = batch_size
        self._load_lock = threading.Lock()
        self._fp32 = self._load()
        self._bf16_queries = cpu_has_bf16() if bf16_queries is None else bf16_queries
        self.dim: int = (getattr(self._fp32, "get_embedding_dimension", None)
                          or self._fp32.get_sentence_embedding_dimension)() or 768
        # Identifies the vectors this encoder makes (cache keys, index manifests).
        self.model_id = model_fingerprint(model_path)

    def _load(self):
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)

    @property
    def _model(self):
        """The fp32 model that embeds passages (and queries, without bf16); reloaded from disk if a server
        released it (``release_passage_model``) and an upload now needs passages embedded (~2 s)."""
        with self._load_lock:
            if self._fp32 is None:
                self._fp32 = self._load()
            return self._fp32

    def release_passage_model(self) -> bool:
        """Keep one copy of the model when queries run in bf16: a server embeds only queries until someone
        uploads a report, and a second, fp32 copy is 1.2 GB of its memory. Made before the first query,
        the bf16 copy is the fp32 model converted in place, so the two never coexist. Returns whether
        memory was released."""
        if not self._bf16_queries or self._fp32 is None:
            return False
        with self._load_lock:
            if "_query_model" not in self.__dict__:
                import torch

                self.__dict__["_query_model"] = self._fp32.to(torch.bfloat16)
            self._fp32 = None
        gc.collect()
        _trim_heap()
        return True

    @cached_property
    def _query_model(self):
        """Queries are on the latency path: a bf16 copy of the model embeds them ~1.8x faster on CPUs
        with native bf16 (measured: 59 vs 107 ms p50, cosine to fp32 ≥ 0.998). Passages stay fp32, so
        the index and the embedding cache do not depend on the machine. Made on first use, so an index
        build (passages only) never pays for the copy; a server warms it up at start.
        """
        if not self._bf16_queries:
            return self._model
        import torch

        return copy.deepcopy(self._model).to(torch.bfloat16)

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Query vectors. Only the first ``QUERY_MAX_CHARS`` characters of a query are embedded: the cost
        grows with its length (a 2,000-character query took 1.7–3.1 s on 2 cores, 256 characters ~0.2 s),
        and a question's meaning sits in its first sentences; lexical search still reads all of it."""
        if not queries:
            return np.zeros((0, self.dim), dtype=np.float32)
        queries = [q[:QUERY_MAX_CHARS] for q in queries]
        vecs = self._query_model.encode(list(queries), prompt_name="query", convert_to_tensor=True,
                                        normalize_embeddings=False, show_progress_bar=False)
        vecs = vecs.float().numpy()
        return (vecs / np.linalg.norm(vecs, axis=1, keepdims=True).clip(min=1e-12)).astype(np.float32)

    @staticmethod
    def document_inputs(texts: Sequence[str], titles: Sequence[str] | None = None) -> list[str]:
        """The exact strings the model sees for passages (also the embedding cache's keys)."""
        titles = titles or ["none"] * len(texts)
        return [f"title: {t or 'none'} | text: {x}" for t, x in zip(titles, texts, strict=True)]

    def encode_documents(
        self, texts: Sequence[str], titles: Sequence[str] | None = None, progress: bool = False
    ) -> np.ndarray:
        return self.encode_inputs(self.document_inputs(texts, titles), progress=progress)

    def encode_inputs(self, inputs: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed strings that already carry their prompt (see ``document_inputs``)."""
        if not inputs:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(
            list(inputs), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=progress,
        )
        return np.asarray(vecs, dtype=np.float32)
