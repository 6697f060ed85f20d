"""Wiring: settings → corpus, encoder, index, retriever. Used by the CLI, the API and the eval."""

from __future__ import annotations

from rag.chunking import ChunkConfig
from rag.corpus import Corpus, load_corpus
from rag.index import SearchIndex, ensure_index
from rag.settings import Settings


def open_encoder(settings: Settings):
    from embeddings.encoder import Encoder

    return Encoder(settings.embedding_model_path(), threads=settings.threads)


def open_index(settings: Settings, rebuild: bool = False, corpus: Corpus | None = None,
               encoder=None, progress: bool = True) -> tuple[SearchIndex, bool]:
    corpus = corpus or load_corpus(settings.data_dir)
    return ensure_index(corpus, settings.index_dir, settings.embedding_model_path(), settings.cache_dir,
                        encoder_factory=lambda: encoder or open_encoder(settings), rebuild=rebuild,
                        cfg=chunk_config(settings), progress=progress)


def chunk_config(settings: Settings) -> ChunkConfig:
    return ChunkConfig(max_chars=settings.chunk_max_chars)


def open_retriever(settings: Settings, encoder=None):
    from rag.retrieve import Retriever

    encoder = encoder or open_encoder(settings)
    index, _ = open_index(settings, encoder=encoder)
    return Retriever(index, encoder)
