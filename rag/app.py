"""Wiring: settings → corpus, encoder, index, retriever. Used by the CLI, the API and the eval."""

from __future__ import annotations

from embeddings.encoder import Encoder, ModelNotFound
from embeddings.protocol import Encoder as EncoderLike
from rag.answering.generation import Generator, LlamaCppGenerator, OpenAIHTTPGenerator
from rag.answering.service import AnswerService
from rag.config import Settings, tuned_config
from rag.corpus import Corpus
from rag.errors import ModelMissing
from rag.library import CorpusVersion
from rag.library import open_corpus as open_corpus_version
from rag.retrieval.chunking import chunk_config
from rag.retrieval.index import SearchIndex, ensure_index
from rag.retrieval.retriever import Retriever


def open_encoder(settings: Settings) -> EncoderLike:
    """The embedding model (torch and the weights load here, not at import), or a client of the embeddings
    server when ``embedding_base_url`` is set."""
    if settings.embedding_base_url:
        from embeddings.remote import EmbeddingServerError, RemoteEncoder

        try:
            return RemoteEncoder(settings.embedding_base_url, settings.embedding_remote_model,
                                 settings.embedding_api_key, batch_size=settings.embedding_batch_size)
        except EmbeddingServerError as exc:
            raise ModelMissing(str(exc)) from exc
    try:
        return Encoder(settings.embedding_model_path(), threads=settings.threads)
    except ModelNotFound as exc:
        raise ModelMissing(str(exc)) from exc


def open_corpus(settings: Settings) -> Corpus:
    """The live corpus: the library's current version (`rag ingest`), else the reports in ``data_dir``."""
    return open_corpus_version(settings).corpus


def open_index(settings: Settings, rebuild: bool = False, corpus: Corpus | None = None,
               encoder: EncoderLike | None = None, progress: bool = True,
               prefer: str | None = None) -> tuple[SearchIndex, bool]:
    """The index for ``corpus`` (default: the live corpus, with the index version its library manifest
    names), built or rebuilt from cached vectors if missing or stale."""
    if corpus is None:
        version = open_corpus_version(settings)
        corpus, prefer = version.corpus, version.index_version
    return ensure_index(corpus, settings.index_dir, settings.embedding_model_id(), settings.cache_dir,
                        encoder_factory=lambda: encoder or open_encoder(settings), rebuild=rebuild,
                        cfg=chunk_config(settings), progress=progress, prefer=prefer)


def open_version(settings: Settings, encoder: EncoderLike | None = None,
                 progress: bool = True) -> tuple[CorpusVersion, SearchIndex]:
    """The live corpus version and its index, loaded together."""
    version = open_corpus_version(settings)
    index, _ = open_index(settings, corpus=version.corpus, encoder=encoder, progress=progress,
                          prefer=version.index_version)
    return version, index


def open_retriever(settings: Settings, encoder: EncoderLike | None = None) -> Retriever:
    encoder = encoder or open_encoder(settings)
    index, _ = open_index(settings, encoder=encoder)
    return Retriever(index, encoder)


def open_generator(settings: Settings) -> Generator:
    """The configured LLM backend: an OpenAI-compatible endpoint if `llm_base_url` is set, else the GGUF."""
    if settings.llm_base_url:
        return OpenAIHTTPGenerator(settings.llm_base_url, model=settings.llm_remote_model,
                                   api_key=settings.llm_api_key)
    return LlamaCppGenerator(settings.llm_model_path(), n_ctx=settings.llm_context, threads=settings.threads,
                             n_batch=settings.llm_batch, lookup_tokens=settings.llm_lookup_tokens)


def open_answer_service(settings: Settings, with_llm: bool = True) -> AnswerService:
    """Corpus, encoder, index, retriever and (unless ``with_llm`` is False) the LLM, each loaded once."""
    encoder = open_encoder(settings)
    version, index = open_version(settings, encoder=encoder)
    generator = open_generator(settings) if with_llm else None
    return AnswerService(Retriever(index, encoder), version.corpus, generator,
                         tuned_config(settings).answer)


def replace_corpus(service: AnswerService, corpus: Corpus, index: SearchIndex) -> AnswerService:
    """A new AnswerService over another corpus version and its index, sharing the loaded encoder, LLM
    and configuration of ``service`` (which keeps serving the requests that already hold it)."""
    old = service.retriever
    return AnswerService(Retriever(index, old.encoder, old.config), corpus, service.generator, service.config)
