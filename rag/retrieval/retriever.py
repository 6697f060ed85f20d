"""Hybrid retrieval: BM25 and dense rankings fused by reciprocal rank, filtered, one hit per section.

Reciprocal-rank fusion needs no score calibration between the two very different scorers, and it
rewards chunks both agree on. Filters on report metadata are applied before ranking.
"""

from __future__ import annotations

import re
import threading
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from embeddings.protocol import Encoder
from rag.config import DEFAULTS, RetrievalConfig
from rag.errors import RagError
from rag.retrieval.bm25 import tokenize
from rag.retrieval.chunking import Chunk
from rag.retrieval.index import SearchIndex
from rag.text.bigrams import BigramIdf, query_grams, relevance
from rag.text.lexicon import HALF_YEARS
from rag.text.normalize import normalize_for_search
from rag.text.question import YEAR_RE, asks_enumeration

Mode = Literal["hybrid", "dense", "bm25"]

_HALF_YEAR = re.compile("|".join(HALF_YEARS))


def half_year_conflict(question: str, section_path: list[str]) -> bool:
    """The question names one half of the year and the chunk's section is about the other only.

    Half-yearly reports hold a 「上半年工作总结」 and a 「下半年工作计划」 side by side under one title, so
    the report's metadata cannot tell them apart; the section headings can.
    """
    asked = set(_HALF_YEAR.findall(question))
    named = set(_HALF_YEAR.findall(" ".join(section_path)))
    return len(asked) == 1 and bool(named) and not (asked & named)


def period_conflict(question: str, section_path: list[str]) -> bool:
    """:func:`half_year_conflict`, or the question names one year and the section only others: the
    「2023年工作情况」 of a report that also holds its 「2024年工作计划」."""
    asked = set(YEAR_RE.findall(question))
    named = set(YEAR_RE.findall(" ".join(section_path)))
    return half_year_conflict(question, section_path) or (len(asked) == 1 and bool(named)
                                                          and not (asked & named))


class Filters(BaseModel):
    period: str | None = Field(None, description="e.g. 2023年下半年; matches any period the report names")
    kind: str | None = Field(None, description="总结 or 计划 (reports that are both match either)")
    body: str | None = Field(None, description="substring of the issuing body or report title, e.g. 水利局")
    level: str | None = Field(None, description="市/区/县/乡/镇/街道/村")
    report_id: str | None = None
    report_ids: list[str] | None = Field(None, description="any of these reports (one side of a comparison)")

    def active(self) -> bool:
        return any(v for v in self.model_dump().values())

    def matches(self, c: Chunk) -> bool:
        if self.report_id and c.report_id != self.report_id:
            return False
        if self.report_ids is not None and c.report_id not in self.report_ids:
            return False
        if self.period and not any(self.period in p for p in c.periods):
            return False
        if self.kind and not (c.kind == self.kind or c.kind == "both"):
            return False
        if self.body and self.body not in (c.issuing_body or "") and self.body not in c.report_title:
            return False
        return not (self.level and c.admin_level != self.level)


class Hit(BaseModel):
    rank: int
    score: float
    chunk_id: str
    chunk_type: str = "text"
    report_id: str
    report_title: str
    source_file: str
    section_id: str
    section_path: list[str]
    text: str
    line_start: int
    line_end: int
    char_start: int
    char_end: int
    parts: list[tuple[int, int]] = Field(default_factory=list)
    dense_score: float | None = None
    bm25_score: float | None = None


# What a hit copies from its chunk.
_CHUNK_FIELDS = set(Hit.model_fields) & set(Chunk.model_fields)


def hit_of(chunk: Chunk, rank: int, score: float, dense_score: float | None = None,
           bm25_score: float | None = None) -> Hit:
    """``chunk`` as a hit at ``rank`` with fused ``score`` (and its score under each ranking that ran)."""
    return Hit(rank=rank, score=score, dense_score=dense_score, bm25_score=bm25_score,
               **chunk.model_dump(include=_CHUNK_FIELDS))


def _ranks(scores: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Rank (0 = best) of every chunk under ``scores``; disallowed chunks get an infinite rank."""
    masked = np.where(allowed, scores, -np.inf)
    order = np.argsort(-masked, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(len(scores))
    ranks[~allowed] = np.inf
    return ranks


class Retriever:
    """Hybrid search: dense and BM25 rankings fused by rank, a report prior, a lexical rerank of the top.
    Every weight is a tuned knob of rag/config.py (RetrievalConfig), with the sweep that chose it."""

    def __init__(self, index: SearchIndex, encoder: Encoder, config: RetrievalConfig = DEFAULTS.retrieval):
        self.index = index
        self.encoder = encoder
        self.config = config
        self.idf = BigramIdf(c.search_text for c in index.chunks)
        self.outline_of = {c.section_id: i for i, c in enumerate(index.chunks) if c.chunk_type == "outline"}
        self.position = {c.chunk_id: i for i, c in enumerate(index.chunks)}
        self._memo: dict[str, np.ndarray] = {}
        self._memo_lock = threading.Lock()

    def query_vector(self, norm: str) -> np.ndarray:
        """The query's embedding (search form ``norm``), remembered for the last few questions: the answer
        stage's sentence judge (rag/answering/judge.py) reads the same vector the search used."""
        with self._memo_lock:
            vec = self._memo.get(norm)
        if vec is None:
            vec = self.encoder.encode_queries([norm])[0]
            with self._memo_lock:
                self._memo[norm] = vec
                while len(self._memo) > 32:
                    self._memo.pop(next(iter(self._memo)))
        return vec

    def search(self, query: str, k: int = 10, filters: Filters | None = None,
               mode: Mode = "hybrid") -> list[Hit]:
        query = query.strip()
        if not query:
            raise RagError("the query is empty; type a question or keywords")
        chunks = self.index.chunks
        n = len(chunks)
        allowed = np.ones(n, dtype=bool)
        if filters is not None and filters.active():
            allowed = np.fromiter((filters.matches(c) for c in chunks), dtype=bool, count=n)
        norm = normalize_for_search(query)
        dense = bm25 = None
        fused = np.zeros(n, dtype=np.float64)
        if mode in ("hybrid", "dense"):
            qv = self.query_vector(norm)
            dense = self.index.dense.scores(qv)
            fused += self.config.dense_weight / (self.config.rrf_k + 1 + _ranks(dense, allowed))
        if mode in ("hybrid", "bm25"):
            bm25 = self.index.bm25.scores(tokenize(norm))
            fused += self.config.bm25_weight / (self.config.rrf_k + 1 + _ranks(bm25, allowed))
        if self.config.report_weight:
            # Hierarchical evidence: a chunk of the report the question is about (its best chunk scores
            # high) beats an equally good chunk of another report on the same topic.
            best: dict[str, float] = {}
            for i in np.argsort(-fused)[:50]:
                best.setdefault(chunks[i].report_id, fused[i])
            fused += self.config.report_weight * np.fromiter((best.get(c.report_id, 0.0) for c in chunks),
                                                      dtype=np.float64, count=n)
        fused[~allowed] = -np.inf
        order = np.argsort(-fused, kind="stable")
        hits: list[Hit] = []
        seen_sections: set[tuple[str, str]] = set()
        depth = max(k, self.config.rerank_depth) if self.config.rerank_weight else k
        for i in order:
            if not np.isfinite(fused[i]) or len(hits) >= depth:
                break
            c = chunks[i]
            # One hit per section (its outline counts apart): the best chunk speaks for the section.
            key = (c.section_id, c.chunk_type)
            if key in seen_sections:
                continue
            seen_sections.add(key)
            hits.append(self._hit(i, len(hits) + 1, float(fused[i]), dense, bm25))
        cfg = self.config
        if cfg.rerank_weight and hits:
            q = query_grams(norm, self.idf)
            top = hits[0].score or 1.0
            hits.sort(key=lambda h: -(h.score / top + cfg.rerank_weight * relevance(q, h.text)
                                      - cfg.half_year_weight * half_year_conflict(norm, h.section_path)))
        if self.config.promote_outline and hits and asks_enumeration(norm):
            hits = self.outline_first(hits, allowed, dense, bm25)
        return [h.model_copy(update={"rank": n}) for n, h in enumerate(hits[:k], start=1)]

    def outline_first(self, hits: list[Hit], allowed: np.ndarray, dense: np.ndarray | None,
                       bm25: np.ndarray | None) -> list[Hit]:
        """For 「哪几方面/哪三项」 questions: the sub-headings of the top hit's section go first.

        When the best passage opens a section that has sub-sections (its heading and preamble, or a
        report's opening), the enumeration asked for is that section's sub-headings: its outline chunk.
        """
        top = hits[0]
        i = self.outline_of.get(top.section_id)
        if top.chunk_type != "text" or i is None or not allowed[i]:
            return hits
        outline = self._hit(i, 1, top.score, dense, bm25)
        return [outline, *(h for h in hits if h.chunk_id != outline.chunk_id)]

    def _hit(self, i: int, rank: int, score: float, dense: np.ndarray | None, bm25: np.ndarray | None) -> Hit:
        """Chunk ``i`` as a hit, with its scores under each ranking that ran."""
        return hit_of(self.index.chunks[i], rank, score,
                      dense_score=float(dense[i]) if dense is not None else None,
                      bm25_score=float(bm25[i]) if bm25 is not None else None)
