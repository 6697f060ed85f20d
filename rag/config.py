"""The one typed settings object. Every component reads its configuration from here.

Values come from (highest first): keyword arguments, environment variables prefixed ``RAG_``
(e.g. ``RAG_MODELS_DIR``), a ``.env`` file in the working directory, then the defaults below.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

import models.errors
from models.manifest import ModelSpec, load_manifest
from rag.errors import ModelFetchError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CACHE_HOME = Path.home() / ".cache" / "govreport-rag"

Port = Annotated[int, Field(ge=1, le=65535)]
# A list read from the environment as written (``a,b`` or a JSON list), parsed by Settings._comma_list:
# pydantic-settings would otherwise insist on JSON and stop the program at start on ``a,b``.
NameList = Annotated[list[str], NoDecode]


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
    embedding_base_url: str | None = Field(
        None,
        description="OpenAI-compatible embeddings server (e.g. http://10.0.0.6:8081: llama.cpp's server, "
        "vLLM, TEI, Infinity) to embed with instead of the in-process model; it must serve the same model "
        "(docs/operations.md).",
    )
    embedding_api_key: str | None = Field(None, description="Bearer token for `embedding_base_url`, if any.")
    embedding_remote_model: str = Field(
        "embeddinggemma-300m", description="Model name sent to `embedding_base_url`; also keys the embedding "
        "cache and the index, so vectors of different models never mix.",
    )
    embedding_batch_size: int = Field(32, ge=1, le=2048, description="Texts per request to the server.")
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
    llm_batch: int = Field(
        256, ge=32, le=8192, description="Prompt tokens the in-process LLM evaluates per step. It sizes "
        "llama.cpp's compute buffer: 151 MB at 256 where 512 took 302 MB (Qwen 0.5B), and 256 evaluated a "
        "1,000-token prompt in 4.66 s instead of 4.84 s (eval/README.md, Memory).",
    )
    llm_lookup_tokens: int = Field(
        0, ge=0, le=64, description="Prompt-lookup decoding: tokens the in-process LLM drafts by copying the "
        "prompt where its last tokens recur there, verified in one step (llama-cpp-python's "
        "LlamaPromptLookupDecoding); 0 turns it off. Measured in eval/README.md (\"Answers, not quote "
        "dumps\").",
    )
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
    allowed_hosts: NameList = Field(
        default_factory=list, description="Host names (Host header) the service answers besides localhost, "
        "127.0.0.1 and [::1] when bound to loopback, e.g. a reverse proxy's name; protects against DNS "
        "rebinding. Ignored when bound elsewhere (then a key guards the service). Comma-separated in the "
        "environment.",
    )
    allowed_origins: NameList = Field(
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
                return json.loads(v)
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

    def embedding_model_id(self) -> str:
        """Identifies the vectors the configured encoder makes (index manifest, embedding cache keys)."""
        if self.embedding_base_url:
            return f"remote:{self.embedding_remote_model}"
        from embeddings.encoder import model_fingerprint

        return model_fingerprint(self.embedding_model_path())

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


# -- tuned knobs -------------------------------------------------------------------------------------
#
# Every constant chosen by a measurement lives below, once, with that measurement. The modules read them
# from here (their defaults); `rag eval` records the resolved `TunedConfig` in every result file, and each
# condition of eval/conditions.yaml pins the values it was measured with, so changing a default here makes
# the conditions that depend on it refuse to run until they are re-measured (eval/conditions.py).


class ChunkConfig(BaseModel):
    """Section-bounded chunks (rag/retrieval/chunking.py); changing them rebuilds the index."""

    max_chars: int = Field(400, ge=50, description="Target upper size of a chunk's text (the setting "
                           "RAG_CHUNK_MAX_CHARS). BM25 over 240–560 (eval/sweep_chunking.py): recall@1 "
                           "0.817 → 0.870; the hybrid retriever at 400 vs 480: recall@1 0.887 vs 0.861, MRR "
                           "0.935 vs 0.917 (eval/README.md). A smaller chunk also keeps the prompt short.")
    min_piece: int = Field(40, ge=1, description="A sentence piece shorter than this is merged on.")
    overlap_sentences: int = Field(1, ge=0, description="Sentences repeated between cuts of one paragraph: "
                                   "≈ +0.01 BM25 recall@1 (eval/sweep_chunking.py).")


class RetrievalConfig(BaseModel):
    """Fusion and rerank of the hybrid retriever (rag/retrieval/retriever.py), chosen by sweeps on the gold
    set (eval/sweep_fusion.py, eval/README.md "Fusion sweep") and checked on eval/holdout.jsonl."""

    rrf_k: float = Field(10.0, gt=0, description="Reciprocal-rank constant. Swept {10, 30, 60} × "
                         "dense_weight {0.3, 0.5, 0.7, 1.0}: a small k trusts the top of each ranking.")
    dense_weight: float = Field(0.6, ge=0, description="Weight of the dense ranking (BM25 is the sharper "
                                "signal on these texts, dense fixes paraphrases); 0.5–0.7 formed a plateau "
                                "at k=10, 0.6 sits in its middle.")
    bm25_weight: float = Field(1.0, ge=0, description="Weight of the BM25 ranking (the reference).")
    report_weight: float = Field(0.5, ge=0, description="Share of the best fused score of a chunk's report "
                                 "added to it (hierarchical evidence): 0.3–1.0 all lifted recall@5 0.983 → "
                                 "1.0 with recall@1 unchanged; 0.5 chosen.")
    rerank_weight: float = Field(0.1, ge=0, description="The top hits are reordered by fused score plus this "
                                 "share of their lexical relevance: 0 → recall@1 0.887, 0.05 and 0.1 → 0.913 "
                                 "(MRR 0.935 → 0.948), 0.2 → 0.913 with recall@5 0.991, 0.4 → 0.870.")
    half_year_weight: float = Field(0.05, ge=0, description="Subtracted from a top hit whose section is "
                                    "about the other half of the year than the question asks: 0.05 and 0.1 "
                                    "moved 4 gold questions up and none down (recall@1 0.913 → 0.922).")
    rerank_depth: int = Field(10, ge=1, description="Hits the lexical rerank reorders.")
    promote_outline: bool = Field(True, description="For 「哪几方面」 questions the top hit's outline chunk "
                                  "goes first: q044 rank 5 → 1, q052 2 → 3, held-out q927 5 → 1.")


class VerifyConfig(BaseModel):
    """The citation checker (rag/answering/verify/)."""

    threshold: float = Field(
        0.82, gt=0, le=1, description="Minimum support (share of a sentence's content characters covered by "
        "bigrams of its cited evidence) for a sentence to count as supported. Chosen on the labelled cases "
        "of tests/test_citations.py (the test prints the scores): faithful paraphrases (reordered, 将→要, "
        "connectives dropped, 党建/D建, 413名/413人) score 0.87 and up; inventions that add words to the "
        "passage's topic words 0.80 and below. 0.82 sits in the gap, off the fractions short sentences "
        "land on exactly (0.8 = 4/5 = 8/10): a 10-character claim may have one uncovered character, a "
        "20-character claim three. Wrong numbers and names are caught by their own exact checks.")
    connective_max_chars: int = Field(6, ge=1, description="Sentences with fewer content characters that "
                                      "end in a colon (「具体如下：」) are connectives, needing no citation.")
    pair_candidates: int = Field(8, ge=2, description="A repair tries pairs of passages only among this "
                                 "many best single passages (plus those stating the claim's numbers or "
                                 "names), to keep it cheap.")


class AnswerConfig(BaseModel):
    """Evidence, generation and the answer's shape (rag/answering/)."""

    k: int = Field(8, ge=1, le=50, description="Hits retrieved before evidence selection.")
    budget_chars: int = Field(650, ge=100, description="Evidence characters in the prompt (all passages).")
    passage_chars: int = Field(260, ge=40, description="Characters of one passage at most.")
    max_passages: int = Field(5, ge=1)
    max_tokens: int = Field(320, ge=16, description="Longest draft the model may write.")
    timeout_s: float = Field(60.0, gt=0, description="Generation wall-clock limit; then extractive fallback.")
    min_relevance: float = Field(0.2, ge=0, le=1, description="Share of the question's (IDF-weighted) "
                                 "bigrams found in the best passage + its label below which the reports are "
                                 "taken not to cover the question. Calibrated on the gold set "
                                 "(eval/README.md).")
    extractive_sentences: int = Field(3, ge=0, description="Further sentences quoted under a brief "
                                      "(「原文还提到：」): the next best after its points (brief.py).")
    prompt: Literal["brief", "verbatim", "points"] = Field(
        "points", description="System prompt (answering/prompt.py); `points` asks for the answer's shape by "
        "the plan's kind over the 2–5 sentences of brief.py.")
    constrain: Literal["off", "citations"] = Field(
        "off", description="`citations`: the LLM's reply must follow a grammar whose every line ends with "
        "the numbers of points it was shown (prompt.py, citation_grammar; llama.cpp grammars). Measured in "
        "eval/README.md (\"Answers, not quote dumps\").")
    complete_with_quotes: Literal["off", "all"] = Field(
        "all", description="After the brief, quote the points it left uncited and the next best sentences "
        "(sentences, never passages; a quantity brief: the sentences it cited). Small models drop items of "
        "enumerations. Measured in eval/README.md (\"Answers, not quote dumps\").")
    bind_min: float = Field(0.3, ge=0, le=1, description="A figure answers a quantity question only where "
                            "the clauses naming what it measures hold at least this share of the question's "
                            "subject (IDF-weighted bigrams; rag/answering/verify/binding.py). Calibrated on "
                            "the "
                            "gold set's quantity questions (eval/README.md).")
    subject_min: float = Field(0.2, ge=0, le=1, description="The reports are taken not to state the "
                               "question's "
                               "subject when no evidence sentence (with its report title and section path) "
                               "holds this share of it (rag/answering/service.py). Calibrated on the gold "
                               "set.")
    body_match: float = Field(0.6, gt=0, le=1, description="Share of a body name's bigrams a report's "
                              "header must contain to be that body's (rag/answering/scope.py): names are "
                              "written loosely (「经信局」), a body absent from the corpus shares at most "
                              "one generic bigram with any header.")
    outline_max: int = Field(10, ge=1, description="Sub-headings listed at most for an enumeration "
                             "(enumerations in these reports run to 8).")
    scan_min: float = Field(0.6, ge=0, le=1, description="who/aggregate: a report is listed when one of its "
                            "sentences (not a heading) holds this share of the subject's word bigrams "
                            "(rag/answering/scan.py). Calibrated on the 28 aggregate questions of the "
                            "cross-report dev set: reports found recall/precision 0.925/0.951 at "
                            "(0.6, 0.4, 0.4), on a plateau from 0.6 to 0.7 (eval/README.md).")
    scan_dense_min: float = Field(0.4, ge=0, le=1, description="who/aggregate: or holds at least "
                                  "scan_min_low of them in a passage this close to the subject (dense "
                                  "cosine): a paraphrase.")
    scan_min_low: float = Field(0.4, ge=0, le=1, description="See scan_dense_min.")
    refusal_gate: Literal["judge", "bigrams", "none"] = Field(
        "judge", description="What decides that the passages do not answer the question: the fitted "
        "evidence judge (rag/answering/judge.py; its threshold, chosen for a stated risk by `rag eval "
        "calibrate`, is in judge.json) or the hand bars min_relevance and subject_min over bigrams (before "
        "issue 27; kept to measure one against the other); none: no gate (the calibration's view).")
    cell_chars: int = Field(90, ge=20, description="A table cell quotes at most this many characters of its "
                            "clause (cut at clause marks around the best-matching clause).")
    row_points: int = Field(3, ge=1, description="A report's row quotes at most this many of its "
                            "sentences on the subject, each at or above the scan threshold (the best "
                            "first): a report states a subject in several places (「召开总河长会议」"
                            "「‘蚌埠河长’巡河APP」). Set a priori (a cell stays readable), not swept.")


class TunedConfig(BaseModel):
    """Every tuned knob, grouped; what eval results record and conditions pin."""

    chunk: ChunkConfig = Field(default_factory=ChunkConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    answer: AnswerConfig = Field(default_factory=AnswerConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)


# The defaults, for modules whose constants are not (yet) set per instance.
DEFAULTS = TunedConfig()


def tuned_config(settings: Settings) -> TunedConfig:
    """The knobs a run uses: ``DEFAULTS`` with the two that settings override, the chunk size
    (``RAG_CHUNK_MAX_CHARS``) and the generation time limit (``RAG_LLM_TIMEOUT_S``)."""
    chunk = DEFAULTS.chunk.model_copy(update={"max_chars": settings.chunk_max_chars})
    answer = DEFAULTS.answer.model_copy(update={"timeout_s": settings.llm_timeout_s})
    return DEFAULTS.model_copy(update={"chunk": chunk, "answer": answer}, deep=True)
