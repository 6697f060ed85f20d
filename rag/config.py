"""The one typed settings object. Every component reads its configuration from here.

Values come from (highest first): keyword arguments, environment variables prefixed ``RAG_``
(e.g. ``RAG_MODELS_DIR``), a ``.env`` file in the working directory, then the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

import models.errors
from models.manifest import ModelSpec, load_manifest
from rag.errors import ModelFetchError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CACHE_HOME = Path.home() / ".cache" / "govreport-rag"

Port = Annotated[int, Field(ge=1, le=65535)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_file=".env", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(
        PROJECT_ROOT / "data",
        description="Folder of report files (compilations or single reports) the service answers from.",
    )
    library_dir: Path | None = Field(
        None,
        description="Versions of the corpus with the reports added by `rag ingest` / POST /v1/reports "
        "(default: <data_dir>/library). Never deleted by `make clean`.",
    )
    ingest_max_bytes: int = Field(
        10_000_000, ge=1000, le=1_000_000_000,
        description="Largest report file `rag ingest` and uploads accept (bytes).",
    )
    models_dir: Path = Field(
        CACHE_HOME / "models",
        description="Where `rag models fetch` puts model weights; outside the clone so clones share it.",
    )
    cache_dir: Path = Field(
        CACHE_HOME / "cache",
        description="Embedding cache (keyed by model + text hash) and other rebuildable caches.",
    )
    index_dir: Path = Field(
        PROJECT_ROOT / "var" / "index",
        description="Where the built search index (FAISS + chunk metadata + manifest) lives.",
    )
    embedding_model: str = Field(
        "embeddinggemma-300m",
        description="Name of the embedding model in models/manifest.toml, or a path to a "
        "sentence-transformers folder.",
    )
    llm_model: str = Field(
        "qwen2.5-coder-0.5b-instruct",
        description="Name of the GGUF model in models/manifest.toml used for answers.",
    )
    llm_path: Path | None = Field(
        None,
        description="Explicit path to any GGUF file; overrides `llm_model` (e.g. a bigger instruct model).",
    )
    chunk_max_chars: int = Field(
        400, ge=100, le=2000, description="Upper size of a chunk's text (characters); changing it rebuilds "
        "the index.",
    )
    llm_context: int = Field(4096, ge=512, le=131072, description="LLM context window in tokens.")
    llm_base_url: str | None = Field(
        None,
        description="OpenAI-compatible server (e.g. http://10.0.0.5:8080) to generate with instead of the "
        "in-process GGUF; llama.cpp's server and vLLM work.",
    )
    llm_api_key: str | None = Field(None, description="Bearer token for `llm_base_url`, if it needs one.")
    llm_remote_model: str = Field("default", description="Model name sent to `llm_base_url`.")
    llm_timeout_s: float = Field(60.0, gt=0, le=3600, description="Generation time limit; the answer then "
                                 "falls back to quoting the passages.")

    threads: int = Field(2, ge=1, le=256, description="CPU threads for the embedding model and the LLM.")
    host: str = Field("127.0.0.1", description="Address the HTTP service binds to.")
    port: Port = Field(8000, description="Port the HTTP service listens on.")
    api_key: str | None = Field(
        None, description="When set, every endpoint except /healthz, /readyz, the docs and the chat page's "
        "static files needs `Authorization: Bearer <key>` (or, without an Authorization header, "
        "`X-API-Key: <key>`). Without one, `rag serve` refuses a non-loopback host unless "
        "`insecure_no_key`.",
    )
    insecure_no_key: bool = Field(
        False, description="Serve a non-loopback address without an API key (`rag serve --insecure-no-key`): "
        "anyone who can reach the port can read and change the library.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Host names (Host header) the service answers besides localhost, "
        "127.0.0.1 and [::1] when bound to loopback, e.g. a reverse proxy's name; protects against DNS "
        "rebinding. Ignored when bound elsewhere (then a key guards the service). Comma-separated in the "
        "environment.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list, description="Web origins besides the service's own that may add or remove "
        "reports from a browser (e.g. https://intranet.example); comma-separated in the environment.",
    )
    write_wait_s: float = Field(
        30.0, ge=0, le=3600, description="How long an ingest or remove waits for another one to finish "
        "before giving up (409 with Retry-After over HTTP).",
    )
    search_concurrency: int = Field(
        4, ge=1, le=256, description="Searches (GET /v1/search) that may run at once; more get 503 with "
        "Retry-After.",
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1024, le=100_000_000, description="Larger request bodies get 413.",
    )
    queue_size: int = Field(
        4, ge=1, le=1000, description="Questions that may wait behind the one the LLM is answering; "
        "more get 503 with Retry-After.",
    )

    @field_validator("data_dir", "library_dir", "models_dir", "cache_dir", "index_dir", "llm_path",
                     mode="after")
    @classmethod
    def _expand(cls, v: Path | None) -> Path | None:
        return v.expanduser().resolve() if v is not None else None

    @field_validator("host")
    @classmethod
    def _host_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("host must not be empty; use 127.0.0.1 to serve only this machine")
        return v.strip()

    @field_validator("api_key")
    @classmethod
    def _key_not_blank(cls, v: str | None) -> str | None:
        # A blank key used to mean "no key" without a word: a typo would open the service.
        if v is not None and not v.strip():
            raise ValueError("is set but blank; unset RAG_API_KEY to serve without a key, or set a key")
        return v.strip() if v is not None else None

    @field_validator("allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _comma_list(cls, v: object) -> object:
        if isinstance(v, str):  # RAG_ALLOWED_HOSTS=a,b (JSON lists work too)
            v = v.strip()
            if v.startswith("["):
                return v
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @model_validator(mode="after")
    def _dirs_distinct(self) -> Settings:
        if self.models_dir == self.data_dir:
            raise ValueError("models_dir and data_dir must be different folders")
        return self

    def library_path(self) -> Path:
        """Where ingested reports and corpus versions live: ``library_dir``, else ``<data_dir>/library``."""
        return self.library_dir if self.library_dir is not None else self.data_dir / "library"

    def embedding_model_path(self) -> Path:
        """Folder of the embedding model: a manifest name resolves inside ``models_dir``."""
        candidate = Path(self.embedding_model).expanduser()
        if candidate.is_absolute() or candidate.exists():
            return candidate.resolve()
        return _manifest_model(self.embedding_model).install_path(self.models_dir)

    def llm_model_path(self) -> Path:
        """GGUF file to load: ``llm_path`` if set, else the manifest model inside ``models_dir``."""
        if self.llm_path is not None:
            return self.llm_path
        return _manifest_model(self.llm_model).install_path(self.models_dir)


def _manifest_model(name: str) -> ModelSpec:
    try:
        return load_manifest().model(name)
    except models.errors.ModelFetchError as exc:  # models/ is a leaf: its errors become the project's
        raise ModelFetchError(str(exc)) from exc


# -- tuned knobs of answering ------------------------------------------------------------------


class AnswerConfig(BaseModel):
    k: int = Field(8, ge=1, le=50, description="Hits retrieved before evidence selection.")
    budget_chars: int = Field(650, ge=100, description="Evidence characters in the prompt (all passages).")
    passage_chars: int = Field(260, ge=40, description="Characters of one passage at most.")
    max_passages: int = Field(5, ge=1)
    max_tokens: int = Field(320, ge=16, description="Longest draft the model may write.")
    timeout_s: float = Field(60.0, gt=0, description="Generation wall-clock limit; then extractive fallback.")
    # Share of the question's (IDF-weighted) bigrams found in the best passage + its label below which
    # the reports are taken not to cover the question. Calibrated on the gold set (eval/README.md).
    min_relevance: float = Field(0.2, ge=0, le=1)
    extractive_sentences: int = Field(3, ge=1, description="Passages quoted by the extractive answer.")
    excerpt_chars: int = Field(
        480, ge=40, description="Quoted passages (「原文摘录」, extractive answers) are grown within their "
        "hit up to this many characters; the prompt keeps the short passage (answering/evidence.py, widen).")
    extractive_quote: Literal["sentence", "passage"] = Field(
        "passage", description="Quote each passage's best sentence, or the whole (already compact) passage "
        "(measured: key-fact recall 0.64 → 0.77 on the gold set, eval/README.md).")
    prompt: Literal["brief", "verbatim"] = Field("brief", description="System prompt (answering/prompt.py).")
    complete_with_quotes: Literal["off", "uncited", "all"] = Field(
        "all", description="After the model's checked sentences, quote the relevant passages it left "
        "uncited, or all relevant passages: small models drop items of enumerations. A quantity question "
        "gets only the sentences its brief cited, verbatim. Measured on 32 gold questions with the 0.5B "
        "model, key-fact recall: off/uncited 0.54, all 0.72 (eval/README.md).")
