"""What the rest of the code needs of an embedding model: ``embeddings.encoder.Encoder`` is the real one
(EmbeddingGemma through sentence-transformers); tests use a fake one (testkit/fakes.py) that loads nothing.

Vectors are float32 rows, L2-normalised, so inner product is cosine similarity. Passages are embedded in
two steps, so the embedding cache can key on the exact model input: ``document_inputs`` makes the strings
the model sees, ``encode_inputs`` embeds them. Imports nothing of the project (``embeddings`` is a leaf).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    @property
    def dim(self) -> int:
        """Length of every vector."""
        ...

    @property
    def model_id(self) -> str:
        """Identifies the vectors this encoder makes (embedding cache keys, index manifests)."""
        ...

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        """One row per query: shape (len(queries), dim)."""
        ...

    def document_inputs(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> list[str]:
        """The strings the model sees for passages ``texts`` under ``titles`` (also the cache's keys)."""
        ...

    def encode_inputs(self, inputs: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed strings made by ``document_inputs``: shape (len(inputs), dim)."""
        ...

    def encode_documents(self, texts: Sequence[str], titles: Sequence[str] | None = None,
                         progress: bool = False) -> np.ndarray:
        """``encode_inputs(document_inputs(texts, titles))``."""
        ...


def release_passage_model(encoder: object) -> None:
    """Let an encoder drop what only passages need (the real one's fp32 copy, when queries have a bf16 copy
    of their own): a server calls this once it is warm, and after each upload."""
    release = getattr(encoder, "release_passage_model", None)
    if release is not None:
        release()
