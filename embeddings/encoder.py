"""A thin encoder over sentence-transformers for EmbeddingGemma, loaded offline from the models dir.

EmbeddingGemma is trained with task prompts: questions go through its ``query`` prompt and passages
through ``title: {title} | text: {text}``; the title slot carries the report title / section path.
Vectors are L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.errors import ModelMissing

# Never let transformers or huggingface_hub reach for a hub: there is none.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class Encoder:
    def __init__(self, model_path: Path, threads: int = 2, batch_size: int = 16):
        if not (model_path / "modules.json").is_file():
            raise ModelMissing(
                f"embedding model not found at {model_path}; run `make models` (or `rag models fetch`)"
            )
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.model_path = model_path
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        self.dim: int = (getattr(self._model, "get_embedding_dimension", None)
                          or self._model.get_sentence_embedding_dimension)() or 768
        # Identifies the vectors this encoder makes (cache keys, index manifests).
        self.model_id = f"{model_path.name}:{self.dim}"

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        return self._encode(list(queries), prompt_name="query", progress=False)

    def encode_documents(
        self, texts: Sequence[str], titles: Sequence[str] | None = None, progress: bool = False
    ) -> np.ndarray:
        titles = titles or ["none"] * len(texts)
        docs = [f"title: {t or 'none'} | text: {x}" for t, x in zip(titles, texts, strict=True)]
        # The prompt is already spelled out above, so no prompt_name here.
        return self._encode(docs, prompt_name=None, progress=progress)

    def _encode(self, texts: list[str], prompt_name: str | None, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(
            texts, prompt_name=prompt_name, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=progress,
        )
        return np.asarray(vecs, dtype=np.float32)
