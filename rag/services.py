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


def open_generator(settings: Settings):
    """The configured LLM backend: an OpenAI-compatible endpoint if `llm_base_url` is set, else the GGUF."""
    from rag.generation import LlamaCppGenerator, OpenAIHTTPGenerator

    if settings.llm_base_url:
        return OpenAIHTTPGenerator(settings.llm_base_url, model=settings.llm_remote_model,
                                   api_key=settings.llm_api_key)
    return LlamaCppGenerator(settings.llm_model_path(), n_ctx=settings.llm_context, threads=settings.threads)


def open_answer_service(settings: Settings, with_llm: bool = True):
    """Corpus, encoder, index, retriever and (unless ``with_llm`` is False) the LLM, each loaded once."""
    from rag.answer import AnswerConfig, AnswerService
    from rag.retrieve import Retriever

    corpus = load_corpus(settings.data_dir)
    encoder = open_encoder(settings)
    index, _ = open_index(settings, corpus=corpus, encoder=encoder)
    generator = open_generator(settings) if with_llm else None
    return AnswerService(Retriever(index, encoder), corpus, generator,
                         AnswerConfig(timeout_s=settings.llm_timeout_s))
