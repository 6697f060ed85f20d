"""The evidence judge: for each sentence of the retrieved chunks, the probability that it answers the plan.

One small fitted model replaces hand thresholds over character bigrams. Features (:data:`FEATURES`) describe
a question–sentence pair: dense similarity of the question to the sentence embedded with its report title and
heading (rag/retrieval/sentences.py), how much of the question's and of the plan's subject's weighted bigrams
the sentence holds — alone and with its context (report title, issuing body, heading path; a sentence that
names its author by a self-reference such as 「本院」「公司」 is read with that body) — whether it states a
figure in the asked unit, the asked date or name, whether its report is the asked body's and covers the asked
year, and its retrieval rank. A logistic regression over them (``eval/calibrate.py``, `rag eval calibrate`)
is fitted on labelled question–sentence pairs from two corpora; its weights and their provenance are in
``judge.json`` beside this module.

The refusal stage reads :meth:`Judgement.best`: below ``threshold`` (chosen by the calibration for a stated
risk, recorded in ``judge.json``) no sentence answers the plan and the service says so. Binding reads the
probability of the sentence a figure stands in.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from rag.answering.scope import place_name, place_names
from rag.contracts import QuestionPlan
from rag.corpus import Corpus
from rag.corpus.parser import name_parts
from rag.retrieval.retriever import Hit, Retriever, hit_of
from rag.retrieval.sentences import SENTENCE_DIM, chunk_sentences, matryoshka
from rag.storage import replace_file
from rag.text.bigrams import BigramIdf, bigrams, query_grams, relevance
from rag.text.lexicon import DATE_EXPRESSION, PERSON_NAME, SELF_REFERENCES
from rag.text.normalize import normalize_for_search
from rag.text.question import body_core, quantities, states_unit

WEIGHTS_PATH = Path(__file__).with_name("judge.json")

FEATURES: tuple[str, ...] = (
    "dense",  # cosine of the question and the sentence (title slot: report title + heading path)
    "question_cover",  # share of the question's weighted bigrams in the sentence
    "question_cover_context",  # ... in the sentence with its report title, body and heading path
    "report_cover",  # ... anywhere in the sentence's report (a name no report holds lowers it)
    "asked_cover",  # share of what the question asks beyond naming the report (its bigrams not in the
    #                 report's header: title, body, file name) in the sentence
    "asked_cover_heading",  # ... in the sentence with its heading path
    "dense_z",  # how far the sentence stands out among the question's candidates (z-score of dense)
    "cover_z",  # ... of question_cover_context: an answer stands out, a near-topic does not
    "subject_cover",  # share of the plan's subject and measure in the sentence
    "subject_cover_context",  # ... with its context
    "heading_cover",  # share of the question in the heading path alone
    "body_asked",  # the question names a body or place
    "body_cover",  # ... and this share of its name is in the report's header (title, body, file name)
    "year_asked",  # the question names a year tied to the scope
    "year_covered",  # ... and the report's periods or the sentence name it
    "place_asked",  # the question names a place (alone, or opening a body's name: 「德安县水利局」)
    "place_in_report",  # ... and this share of those places is named in the sentence's report
    "period_asked",  # the question names the report's period (「2023年上半年」)
    "period_fits",  # ... and the sentence's report covers it (a year's report covers its halves)
    "kind_asked",  # the question asks a summary or a plan
    "kind_fits",  # ... and the sentence's report is one
    "quantity_asked",  # the plan asks for a figure
    "figure_stated",  # ... and the sentence states one (in the asked unit, when one is asked)
    "detail_asked",  # the plan asks a date or a name
    "detail_stated",  # ... and the sentence states one
    "self_reference",  # the sentence names its author as 本院/公司/我局…
    "rank",  # 1 / retrieval rank of the chunk it stands in
    "length",  # log of the sentence's length, scaled
)

# Sentences of the rest of a hit's section judged besides the hit's own (by dense similarity): enough for
# the answer to stand anywhere in a hospital record's 现病史 or a judgment's 判决结果, few enough to judge
# in milliseconds. Set a priori, not swept.
SECTION_REACH = 24
_SELF_REF_RE = re.compile(SELF_REFERENCES)
_DATE_RE = re.compile(DATE_EXPRESSION)
_NAME_RE = re.compile(PERSON_NAME)
_YEAR_RE = re.compile(r"(?:19|20)\d{2}")


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved chunk, where it stands and what surrounds it."""

    hit: Hit
    start: int  # absolute character offsets in the source file
    end: int
    text: str
    context: str  # report title, issuing body, file-name words, heading path (search form)
    chunk: int  # position in the index of the chunk it stands in (not always the hit's own chunk)


@dataclass
class Judgement:
    """The candidates of one question with their probabilities, best first."""

    candidates: list[Candidate] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    features: list[list[float]] = field(default_factory=list)

    @property
    def best(self) -> float:
        return max(self.probabilities, default=0.0)

    def of_span(self, source_file: str, start: int, end: int) -> float:
        """The probability of the best candidate overlapping [start, end) of ``source_file`` (0 if none)."""
        return max((p for c, p in zip(self.candidates, self.probabilities, strict=True)
                    if c.hit.source_file == source_file and c.start < end and start < c.end), default=0.0)


class JudgeWeights(BaseModel):
    """A fitted logistic regression over standardised features, with where it came from."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float = Field(description="Refuse below this probability of the best sentence.")
    embedding_dim: int = Field(768, description="The dense feature is EmbeddingGemma's cosine (768 "
                               "dimensions, cut to 256): with another encoder (the tests' fake) the weights "
                               "do not apply.")
    risk: str = Field("", description="What the threshold was chosen for, in words.")
    provenance: dict = Field(default_factory=dict)


@cache
def load_weights(path: Path = WEIGHTS_PATH) -> JudgeWeights:
    return JudgeWeights.model_validate_json(path.read_text(encoding="utf-8"))


class Judge:
    """Built once per service: report headers for context, the index's sentence vectors."""

    def __init__(self, retriever: Retriever, corpus: Corpus, idf: BigramIdf,
                 report_grams: Mapping[str, set[str]], weights: JudgeWeights | None = None):
        self.retriever = retriever
        self.report_grams = report_grams  # each report's whole text as bigrams (scope.py reads the same)
        self.idf = idf
        # None only before the first `rag eval calibrate` (it reads the features, not the probabilities)
        self.weights = weights or (load_weights() if WEIGHTS_PATH.is_file() else None)
        if self.weights is not None and list(self.weights.features) != list(FEATURES):
            # weights of other features would judge nonsense: keep the bigram bars until the refit
            # (tests/test_judge.py fails on this, so it never ships)
            warnings.warn("judge.json was fitted on other features; the service uses the bigram bars "
                          "until `rag eval calibrate` refits it", stacklevel=2)
            self.weights = None
        self.headers: dict[str, str] = {}
        self.bodies: dict[str, str] = {}
        self.periods: dict[str, str] = {}
        self.reports = {r.id: r for r in corpus.reports}
        self.sections: dict[str, list[int]] = {}  # section id → positions of its text chunks, in order
        for pos, chunk in enumerate(retriever.index.chunks):
            if chunk.chunk_type == "text":
                self.sections.setdefault(chunk.section_id, []).append(pos)
        self._embedded: dict[int, tuple[list[tuple[int, int]], np.ndarray]] = {}
        for r in corpus.reports:
            body = r.issuing_body or ""
            self.bodies[r.id] = body
            self.headers[r.id] = normalize_for_search(" ".join([r.title, body, *name_parts(r.source_file)]))
            self.periods[r.id] = " ".join([*r.periods, r.title])

    @property
    def usable(self) -> bool:
        """Fitted weights for this encoder's vectors (else the service keeps the bigram bars)."""
        return self.weights is not None and getattr(self.retriever.encoder, "dim", None) == \
            self.weights.embedding_dim

    @property
    def threshold(self) -> float:
        """Below this probability of its best sentence a question is refused (0 before any calibration)."""
        return self.weights.threshold if self.weights is not None else 0.0

    # -- candidates ---------------------------------------------------------------------------------

    def candidates(self, hits: Sequence[Hit], qv: np.ndarray) -> tuple[list[Candidate], np.ndarray]:
        """The sentences of the text hits, and the :data:`SECTION_REACH` sentences of the rest of their
        sections closest to the question (``qv``, cut to the sentence vectors' size): a section without
        sub-headings (a hospital record, a judgment's 「本院认为」) is one hit, but its answer may stand in
        any of its chunks. A sentence repeated by overlapping chunks counts once. Returns the candidates and
        their vectors."""
        index = self.retriever.index
        out: list[Candidate] = []
        rows: list[np.ndarray] = []
        seen: set[tuple[str, int]] = set()

        def add(hit: Hit, pos: int, only: set[int] | None) -> None:
            chunk = index.chunks[pos]
            spans, vectors = self.sentences_of(pos)
            for j, (a, _) in enumerate(spans):
                key = (chunk.source_file, chunk.char_start + a)
                if key in seen or (only is not None and j not in only):
                    continue
                seen.add(key)
                out.append(self.candidate(hit, pos, j))
                rows.append(vectors[j])

        text_hits = [(h, self.retriever.position[h.chunk_id]) for h in hits
                     if h.chunk_type == "text" and h.chunk_id in self.retriever.position]
        for hit, pos in text_hits:
            add(hit, pos, None)
        for hit, pos in text_hits:  # the rest of the hit's section, nearest sentences first
            others = [p for p in self.sections.get(index.chunks[pos].section_id, ()) if p != pos]
            scored: list[tuple[float, int, int]] = []
            for p in others:
                spans, vectors = self.sentences_of(p)
                if len(spans):
                    sims = vectors @ qv[: vectors.shape[1]]
                    scored.extend((float(sim), p, j) for j, sim in enumerate(sims))
            scored.sort(key=lambda t: -t[0])
            picked: dict[int, set[int]] = {}
            for _, p, j in scored[:SECTION_REACH]:
                picked.setdefault(p, set()).add(j)
            for p, js in sorted(picked.items()):
                add(hit, p, js)
        matrix = np.vstack(rows) if rows else np.zeros((0, 1), dtype=np.float32)
        return out, matrix

    def candidate(self, hit: Hit, pos: int, j: int) -> Candidate:
        """Sentence ``j`` of the chunk at index position ``pos``, judged as part of ``hit``."""
        chunk = self.retriever.index.chunks[pos]
        a, b = self.sentences_of(pos)[0][j]
        heading = normalize_for_search(" ".join(chunk.section_path))
        context = f"{self.headers.get(chunk.report_id, '')} {heading}"
        return Candidate(hit, chunk.char_start + a, chunk.char_start + b, chunk.text[a:b], context, pos)

    def focus(self, hits: Sequence[Hit], judgement: Judgement) -> list[Hit]:
        """The hits with each section's chunk swapped for the one holding the section's best sentence, when
        that sentence stands in another chunk of the section and is judged better than any of the hit's
        own: the evidence is then cut from the chunk that answers."""
        best: dict[str, tuple[float, int]] = {}  # hit chunk id → (probability, chunk position)
        own: dict[str, float] = {}
        for c, p in zip(judgement.candidates, judgement.probabilities, strict=True):
            key = c.hit.chunk_id
            if self.retriever.index.chunks[c.chunk].chunk_id == key:
                own[key] = max(own.get(key, 0.0), p)
            elif p > best.get(key, (-1.0, 0))[0]:
                best[key] = (p, c.chunk)
        out = []
        for h in hits:
            if h.chunk_id in best and best[h.chunk_id][0] > own.get(h.chunk_id, 0.0):
                chunk = self.retriever.index.chunks[best[h.chunk_id][1]]
                h = hit_of(chunk, h.rank, h.score, h.dense_score, h.bm25_score)
            out.append(h)
        return out

    def sentences_of(self, pos: int) -> tuple[list[tuple[int, int]], np.ndarray]:
        """A chunk's sentence spans and vectors: from the index, or (an in-memory index: tests, baselines)
        embedded now and remembered."""
        index = self.retriever.index
        if index.sentences is not None:
            return index.sentences.of_chunk(pos)
        if pos not in self._embedded:
            chunk = index.chunks[pos]
            spans = chunk_sentences(chunk)
            title = f"{self.headers.get(chunk.report_id, '')} {' '.join(chunk.section_path)}"
            vectors = (matryoshka(self.retriever.encoder.encode_documents(
                [normalize_for_search(chunk.text[a:b]) for a, b in spans], [title] * len(spans)))
                if spans else np.zeros((0, SENTENCE_DIM), dtype=np.float32))
            self._embedded[pos] = (spans, vectors)
        return self._embedded[pos]

    # -- features -----------------------------------------------------------------------------------

    def judge(self, question: str, plan: QuestionPlan, hits: Sequence[Hit]) -> Judgement:
        norm = normalize_for_search(question)
        qv = self.question_vector(norm)
        cands, matrix = self.candidates(hits, qv)
        return self.judge_candidates(norm, plan, cands, matrix @ qv[: matrix.shape[1]])

    def question_vector(self, norm: str) -> np.ndarray:
        """The question's embedding cut to the sentence vectors' size (the search's own vector, reused)."""
        full = self.retriever.query_vector(norm)
        return matryoshka(full.reshape(1, -1), min(SENTENCE_DIM, full.shape[0]))[0]

    def judge_candidates(self, norm: str, plan: QuestionPlan, cands: Sequence[Candidate],
                         dense: np.ndarray) -> Judgement:
        """The probabilities of ``cands`` (their cosines to the question: ``dense``); the report scan
        (scan.py) judges its own candidates, one report's best sentences each, with this."""
        if not cands:
            return Judgement()
        feats = self.features(norm, plan, cands, dense)
        return Judgement(list(cands), self.probabilities(feats), feats)

    def features(self, norm: str, plan: QuestionPlan, cands: Sequence[Candidate],
                 dense: np.ndarray) -> list[list[float]]:
        q = query_grams(norm, self.idf)
        about = " ".join(w for w in (plan.subject, plan.measure) if w)
        s = query_grams(about, self.idf) if about else q
        asked = [n for n in (plan.scope.body, plan.scope.place) if n]
        body_grams = [query_grams(body_core(n) if plan.scope.body == n else n, self.idf) for n in asked]
        years = plan.facts.years
        asked_places = [*(place_names(plan.scope.body) if plan.scope.body else []),
                        *([place_name(plan.scope.place)] if plan.scope.place else [])]
        places = [bigrams(p) for p in asked_places if p]
        period, kind = plan.scope.period, plan.scope.report_kind
        rows = []
        contexts = []
        for c in cands:
            ctx = c.context
            if _SELF_REF_RE.search(c.text):  # 「本院认为」「公司的排放量」: the report's own body
                ctx = f"{ctx} {normalize_for_search(self.bodies.get(c.hit.report_id, ''))}"
            contexts.append(ctx)
        q_ctx = [relevance(q, f"{ctx} {c.text}") for c, ctx in zip(cands, contexts, strict=True)]
        total = sum(q.values()) or 1.0
        in_report = {rid: sum(w for g, w in q.items() if g in self.report_grams.get(rid, ()))
                     / total for rid in {c.hit.report_id for c in cands}}
        beyond: dict[str, dict[str, float]] = {}  # per report: the question's grams its header lacks
        for rid in in_report:
            header_grams = bigrams(self.headers.get(rid, ""))
            beyond[rid] = {g: w for g, w in q.items() if g not in header_grams}
        qc = np.asarray(q_ctx)
        dense_z = (dense - dense.mean()) / (dense.std() + 1e-3)
        cover_z = (qc - qc.mean()) / (qc.std() + 1e-3)
        for i, c in enumerate(cands):
            text = normalize_for_search(c.text)
            header = self.headers.get(c.hit.report_id, "")
            rest = beyond[c.hit.report_id]
            figure = bool(quantities(text)) if not plan.unit else states_unit(text, plan.unit)
            detail = {"date": _DATE_RE, "name": _NAME_RE}.get(plan.asks or "")
            body_cover = min((relevance(g, f"{header} {text}") for g in body_grams if g), default=0.0)
            year_ok = all(y in self.periods.get(c.hit.report_id, "") or y in text for y in years)
            report = self.reports.get(c.hit.report_id)
            grams = self.report_grams.get(c.hit.report_id, set())
            place_in = sum(p <= grams for p in places) / len(places) if places else 0.0
            rows.append([
                float(dense[i]),
                relevance(q, text),
                q_ctx[i],
                in_report[c.hit.report_id],
                relevance(rest, text) if rest else 1.0,
                relevance(rest, f"{' '.join(c.hit.section_path)} {text}") if rest else 1.0,
                float(dense_z[i]),
                float(cover_z[i]),
                relevance(s, text),
                relevance(s, f"{contexts[i]} {text}"),
                relevance(q, " ".join(c.hit.section_path)),
                1.0 if asked else 0.0,
                body_cover if asked else 0.0,
                1.0 if years else 0.0,
                1.0 if years and year_ok else 0.0,
                1.0 if places else 0.0,
                place_in,
                1.0 if period else 0.0,
                1.0 if period and report is not None and period_fits(period, report.periods) else 0.0,
                1.0 if kind else 0.0,
                1.0 if kind and report is not None and report.kind in (kind, "both") else 0.0,
                1.0 if plan.asks_quantity else 0.0,
                1.0 if plan.asks_quantity and figure else 0.0,
                1.0 if detail is not None else 0.0,
                1.0 if detail is not None and detail.search(text) else 0.0,
                1.0 if _SELF_REF_RE.search(c.text) else 0.0,
                1.0 / max(c.hit.rank, 1),
                math.log1p(len(text)) / 5.0,
            ])
        return rows

    def probabilities(self, rows: list[list[float]]) -> list[float]:
        w = self.weights
        if w is None:
            return [1.0] * len(rows)
        x = (np.asarray(rows, dtype=np.float64) - np.asarray(w.mean)) / np.asarray(w.scale)
        z = x @ np.asarray(w.coef) + w.intercept
        return [float(p) for p in 1.0 / (1.0 + np.exp(-z))]


def period_fits(asked: str, periods: Sequence[str]) -> bool:
    """Whether a report of ``periods`` covers the asked period: the same year (when one is asked) and the
    same half (when one is asked; a whole year's report covers both)."""
    year = _YEAR_RE.search(asked)
    half = re.search(r"[上下]半年", asked)
    return any((year is None or year.group() in p) and (half is None or half.group() in p or "半年" not in p)
               for p in periods)


def dump_weights(weights: JudgeWeights, path: Path = WEIGHTS_PATH) -> None:
    """Write ``judge.json`` aside, then rename: a crash never leaves half a weights file."""
    replace_file(path, json.dumps(weights.model_dump(), ensure_ascii=False, indent=1) + "\n")
    load_weights.cache_clear()
