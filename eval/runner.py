"""Running conditions: the corpus as evaluated, and the Runner that loads each component once.

``Runner.run`` turns a condition and its questions into a result: summary, per-type summaries, one record
per question, the ``provenance`` of the run (eval/provenance.py) and the ``config`` it ran with — the
condition's spec with the defaults filled in, the retriever's and the answer service's parameters, and the
whole resolved ``TunedConfig`` (``config["tuned"]``).
"""

from __future__ import annotations

import re
import resource
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings.cache import EmbeddingCache
from embeddings.protocol import Encoder as EncoderLike
from eval.answers import by_tag as answers_by_tag
from eval.answers import by_type as answers_by_type
from eval.answers import run as run_answers
from eval.answers import summarize
from eval.calibration import calibrated, prompt_speed
from eval.check_gold import GoldItem
from eval.conditions import Condition, check_pins, flatten, resolved_tuned
from eval.provenance import embedding_fingerprint, file_sha256, git_state, llm_fingerprint, machine
from eval.retrieval import evaluate
from rag import app  # through the module: tests replace app.open_encoder with a fake
from rag.answering.judge import WEIGHTS_PATH
from rag.answering.scan import CALIBRATION_PATH
from rag.answering.service import AnswerService
from rag.config import DEFAULTS, Settings
from rag.corpus import Corpus, load_corpus
from rag.corpus.loader import assemble_corpus, corpus_files, parse_corpus_file
from rag.errors import CorpusError
from rag.retrieval.chunking import fixed_chunks
from rag.retrieval.index import SearchIndex, embed_chunks, memory_index
from rag.retrieval.retriever import Retriever

FITTED = {"judge": WEIGHTS_PATH, "scan": CALIBRATION_PATH}  # the fitted decisions answers depend on
FIXED_CHARS = 400  # the naive baselines' window: the size of our chunks, without their structure


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _refusal_reason(name: str, exc: Exception) -> str:
    """The parser's message without the file name it starts with: 「line 3: no report title found …」."""
    m = re.match(rf"{re.escape(name)}:(?:(\d+):)?\s*(.*)", str(exc), re.S)
    if not m:
        return str(exc)
    return (f"line {m[1]}: " if m[1] else "") + m[2]


def load_eval_corpus(data_dir: Path, skip_bad: bool = False) -> tuple[Corpus, list[tuple[str, str]]]:
    """Every report file of ``data_dir`` parsed; returns the corpus and the refused files (name, reason).

    A file the parser refuses (no title line, no text, undecodable…) stops the run naming *every* such
    file; with ``skip_bad`` the others are evaluated and the refused ones are returned."""
    paths = corpus_files(data_dir)
    if not paths:
        raise CorpusError(f"{data_dir}: no .txt report files in the corpus folder")
    files, refused = [], []
    for path in paths:
        try:
            files.append(parse_corpus_file(path))
        except CorpusError as exc:
            refused.append((path.name, _refusal_reason(path.name, exc)))
    if refused and not skip_bad:
        raise CorpusError(f"{data_dir}: {len(refused)} of {len(paths)} report files cannot be loaded; "
                          "nothing was evaluated (--skip-bad evaluates the others):\n"
                          + "\n".join(f"  {name}: {reason}" for name, reason in refused))
    if not files:
        raise CorpusError(f"{data_dir}: none of the {len(paths)} report files could be loaded:\n"
                          + "\n".join(f"  {name}: {reason}" for name, reason in refused))
    return assemble_corpus(data_dir, files), refused


def naive_retriever(corpus: Corpus, encoder: EncoderLike, cache_dir: Path, bm25_only: bool = False,
                    progress: bool = True) -> Retriever:
    """The naive baseline: fixed windows of FIXED_CHARS, no structure; rank fusion without the lexical
    rerank. ``bm25_only``: no vectors are computed (BM25 alone never reads them)."""
    chunks = fixed_chunks(corpus, FIXED_CHARS)
    if bm25_only:
        vectors = np.zeros((len(chunks), 1), dtype=np.float32)
    else:
        cache = EmbeddingCache(cache_dir / "embeddings.sqlite")
        vectors, _ = embed_chunks(chunks, encoder, cache, progress=progress)
        cache.close()
    return Retriever(memory_index(chunks, vectors, label=f"baseline-fixed-{FIXED_CHARS}"), encoder,
                     DEFAULTS.retrieval.model_copy(update={"rerank_weight": 0.0}))


class Runner:
    """Runs conditions on one corpus, loading each component once and sharing it between conditions.

    ``corpus``: the corpus already loaded (``load_eval_corpus``), with the files it ``refused``; default:
    every file of ``settings.data_dir``. The index lives in ``settings.index_dir``. ``tuned``: the tuned
    values every condition runs with (rag/config.py's defaults with the settings' overrides)."""

    def __init__(self, settings: Settings, progress: bool = True, corpus: Corpus | None = None,
                 refused: Sequence[tuple[str, str]] = ()):
        self.settings = settings
        self.progress = progress
        self.tuned = resolved_tuned(settings)
        self._corpus = corpus
        self._encoder: EncoderLike | None = None
        self._index: SearchIndex | None = None
        self.refused = list(refused)
        self._services: dict[str | None, AnswerService] = {}
        self._git: dict | None = None
        self._llm_fingerprints: dict[str | None, dict] = {}
        self._calibrations: dict[str | None, dict] = {}  # per LLM: eval/calibration.py

    def corpus(self) -> Corpus:
        if self._corpus is None:
            self._corpus = load_corpus(self.settings.data_dir)
        return self._corpus

    def encoder(self) -> EncoderLike:
        if self._encoder is None:
            self._encoder = app.open_encoder(self.settings)
            self._encoder.encode_queries(["预热"])  # one-off setup is not a query latency
        return self._encoder

    def index(self) -> SearchIndex:
        if self._index is None:
            self._index, _ = app.open_index(self.settings, corpus=self.corpus(), encoder=self.encoder(),
                                            progress=self.progress)
        return self._index

    def retriever(self, cond: Condition) -> Retriever:
        if cond.chunks == "structure":
            return Retriever(self.index(), self.encoder())
        return naive_retriever(self.corpus(), self.encoder(), self.settings.cache_dir,
                               bm25_only=cond.retriever == "bm25", progress=self.progress)

    def llm_settings(self, cond: Condition) -> Settings:
        """The settings an LLM condition generates with (its ``llm_model`` over the default)."""
        return self.settings.model_copy(update={"llm_model": cond.llm_model}) if cond.llm_model \
            else self.settings

    def service(self, cond: Condition) -> AnswerService:
        key = cond.llm_model if cond.mode == "llm" else None
        if key not in self._services:
            generator = app.open_generator(self.llm_settings(cond)) if cond.mode == "llm" else None
            self._services[key] = AnswerService(self.retriever(cond), self.corpus(), generator,
                                                self.tuned.answer.model_copy())
            if generator is not None:  # before warm_up, which caches the system prompt again
                self._calibrations[key] = prompt_speed(generator)
        svc = self._services[key]
        svc.config.prompt = cond.prompt or self.tuned.answer.prompt
        svc.config.constrain = cond.constrain or self.tuned.answer.constrain
        svc.warm_up()
        return svc

    def provenance(self, cond: Condition, gold: Path | None) -> dict:
        """Where a result came from: code, models, corpus, questions and index."""
        if self._git is None:  # once per run: the results written later would make the tree look dirty
            self._git = git_state()
        corpus = self.corpus()
        out: dict = {
            "git": self._git,
            "machine": machine(),
            "embedding_model": embedding_fingerprint(self.settings),
            "llm": None,
            "corpus": {"dir": corpus.data_dir, "content_hash": corpus.content_hash,
                       "parser_version": corpus.parser_version, "files": len(corpus.files),
                       "refused": [{"file": name, "reason": reason} for name, reason in self.refused]},
            "gold": {"path": str(gold) if gold else None,
                     "sha256": file_sha256(gold) if gold and gold.is_file() else None},
            "index": None,
            "fitted": {name: file_sha256(path)[:16] for name, path in FITTED.items() if path.is_file()},
        }
        if cond.kind == "answers" and cond.mode == "llm":
            if cond.llm_model not in self._llm_fingerprints:
                self._llm_fingerprints[cond.llm_model] = llm_fingerprint(self.llm_settings(cond))
            out["llm"] = self._llm_fingerprints[cond.llm_model]
        if cond.chunks == "structure" and self._index is not None:
            m = self._index.manifest
            out["index"] = {"dir": str(self.settings.index_dir), "version": self._index.version,
                            "model_id": m.model_id, "corpus_hash": m.corpus_hash,
                            "chunker_version": m.chunker_version, "n_chunks": m.n_chunks}
        return out

    def resolved_config(self, cond: Condition, retriever, service=None, n: int = 0,
                        limit: int | None = None) -> dict:
        """The condition's settings as run: its spec with the defaults filled in, the retriever's and the
        answer service's parameters, the whole resolved TunedConfig and the settings that change results."""
        s = self.settings
        unused = {"mode", "llm_model", "prompt", "constrain"} if cond.kind == "retrieval" else \
            set() if cond.mode == "llm" else {"llm_model"}
        config: dict = {
            **cond.model_dump(exclude={"name", "description", "ci", "expected", "pins", *unused}),
            "k": 10 if cond.kind == "retrieval" else None,
            "limit": limit, "questions": n,
            "chunking": ({"kind": "fixed", "chars": FIXED_CHARS} if cond.chunks == "fixed"
                         else {"kind": "structure", "max_chars": self.tuned.chunk.max_chars}),
            "retriever_params": retriever.config.model_dump() if retriever is not None else None,
            "tuned": self.tuned.model_dump(),
            "settings": {"data_dir": str(s.data_dir), "index_dir": str(s.index_dir),
                         "embedding_model": s.embedding_model, "threads": s.threads},
        }
        if service is not None:
            config["answer_config"] = service.config.model_dump()
            config["prompt"] = service.config.prompt
        if cond.kind == "answers" and cond.mode == "llm":
            ls = self.llm_settings(cond)
            config["llm_model"] = str(ls.llm_path) if ls.llm_path else ls.llm_model
            config["settings"] |= {"llm_context": ls.llm_context, "llm_timeout_s": ls.llm_timeout_s,
                                   "llm_base_url": ls.llm_base_url}
        return config

    def run(self, cond: Condition, items: Sequence[GoldItem], gold: Path | None = None,
            limit: int | None = None) -> dict:
        check_pins([cond], flatten(self.tuned))  # run_conditions checks them all first; other callers
        t0 = time.perf_counter()
        service = None
        if cond.kind == "retrieval":
            retriever = self.retriever(cond)
            answerable = [i for i in items if i.answerable and i.sources]
            res = evaluate(lambda q: retriever.search(q, k=10, mode=cond.retriever), answerable,
                           desc=cond.name)
            summary = {k: round(v, 4) for k, v in res["overall"].items()}
            summary |= {"query_ms_p50": round(res["latency_ms"]["p50"], 1),
                        "query_ms_p95": round(res["latency_ms"]["p95"], 1)}
            by_type = res["by_type"]
            by_tag: dict[str, dict] = {}
            records = res["questions"]
        else:
            service = self.service(cond)
            retriever = service.retriever
            recs = run_answers(service, items, cond.mode, desc=cond.name)
            summary = summarize(recs)
            by_type = answers_by_type(recs)
            by_tag = answers_by_tag(recs)
            records = [r.model_dump() for r in recs]
        llm = cond.kind == "answers" and cond.mode == "llm"
        calibration = self._calibrations.get(cond.llm_model) if llm else None
        if calibration:
            summary |= calibrated(summary, calibration)
        summary["peak_rss_mb"] = peak_rss_mb()
        return {"condition": cond.name, "description": cond.description, "spec": cond.model_dump(),
                "n": len(records), "seconds": round(time.perf_counter() - t0, 1),
                "run_at": time.strftime("%Y-%m-%d %H:%M"),
                "provenance": self.provenance(cond, gold),
                "calibration": calibration,
                "config": self.resolved_config(cond, retriever, service, n=len(records), limit=limit),
                "summary": summary, "by_type": by_type, "by_tag": by_tag, "records": records}
