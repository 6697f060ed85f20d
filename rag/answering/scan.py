"""Who / which reports: scan every report for a sentence that states the plan's subject.

「哪些单位提到了安全生产检查？」 is not answered from the top-k passages (they crowd into one or two reports)
but by a pass over the whole index: BM25 and the dense model score every chunk for the subject in one call
each, and every report whose chunks hold a sentence stating the subject is listed — one table row per
report, its cell the sentence's best clauses, verbatim and cited. Nothing is reread from the files and no
LLM runs, so the table costs one query encoding plus a sweep of the candidate sentences.

A sentence *states* the subject when it holds most of the subject's word bigrams (bigrams inside jieba
words, so 「安全生产检查」 does not ask for the 「产检」 across a word boundary): at least ``scan_min`` of
them, or ``scan_min_low`` in a chunk the dense model puts close to the subject (a paraphrase). A heading
alone does not count: a report whose only match is 「（三）安全生产」 with nothing about it is left out.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from rag.answering.judge import Candidate, Judge
from rag.answering.scope import ScopeChecker
from rag.answering.speakers import Speaker
from rag.config import AnswerConfig
from rag.contracts import QuestionPlan
from rag.corpus import Report
from rag.corpus.numbering import parse_marker
from rag.retrieval.bm25 import tokenize, word_starts
from rag.retrieval.chunking import Chunk
from rag.retrieval.retriever import Retriever, half_year_conflict, hit_of
from rag.storage import replace_file
from rag.text.bigrams import BigramIdf, bigrams, relevance
from rag.text.lexicon import NEGATIONS
from rag.text.normalize import normalize_for_search
from rag.text.organs import field_organ_words, names_field
from rag.text.sentences import CLAUSE_END_RE, sentence_bounds

_TRAILING_MARKS = "。；;：:，, \u3000\t\r\n"
_HEADING_CHARS = 30
# A bigram in at most this share of the chunks names a thing (反诈, 巡视); commoner ones are verbs (争取).
_RARE_SHARE = 0.02
CLAUSE_MARK_RE = re.compile("[，,；;：:]")
CALIBRATION_PATH = Path(__file__).with_name("scan.json")
# A compilation is the one the question names when its title holds at least this share of the name's
# bigrams (a name is written loosely: 「局机关汇编」); two compilations' titles share at most their period
# words and 「工作」「汇编」.
COMPILATION_MATCH = 0.5
_NEGATION_RE = re.compile(NEGATIONS)


def negates(sentence: str, alternatives: list[dict[str, float]]) -> bool:
    """Whether ``sentence`` denies the subject: a negation (「无」「未」「否定」「排除」) in the clause that
    last names it, before it (「无高血压病史」「贫血：…，否定贫血」「并无对青霉素过敏」; not 「有高血压病史，
    否认糖尿病」 for 高血压)."""
    text = normalize_for_search(sentence)
    hits = [text.rfind(g) for grams in alternatives for g in grams if g in text]
    if not hits:
        return False
    last = max(hits)
    clause = re.split(r"[，,；;。：:]", text[max(0, last - 12) : last])[-1]
    for grams in alternatives:  # the subject's own words are no negation (「无烟单位」 for 「无烟」)
        for g in grams:
            clause = clause.replace(g, "  ")
    return bool(_NEGATION_RE.search(clause))


def _order(scores: np.ndarray) -> np.ndarray:
    """The rank (0 = best) of every entry of ``scores``."""
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
    return ranks


def _names_field(name: str, field: str) -> bool:
    """Whether a body's name is of ``field``: by the organ lexicon's rule, or where a word of the field
    starts a word of the name as jieba cuts it (「淮南商务局」, a place written without its unit)."""
    if names_field(name, field):
        return True
    starts = word_starts(name)
    return any(m.start() in starts for w in field_organ_words(field) for m in re.finditer(re.escape(w), name))


@dataclass(frozen=True)
class Mention:
    """The clause of one report that states the subject best: a table row."""

    report: Report
    chunk: Chunk
    start: int  # absolute char offsets in the source file of the quoted clause(s)
    end: int
    score: float  # the scan model's probability (judged), or the share of the subject's bigrams (bars)
    dense: float  # cosine of the sentence (judged) or chunk (bars) to the subject
    more: tuple[Mention, ...] = ()  # the report's further sentences on the subject, for the same row
    speaker: str | None = None  # who said it (speakers.py); the issuing body when None

    @property
    def text(self) -> str:
        c = self.chunk
        return c.text[self.start - c.char_start : self.end - c.char_start]


def word_grams(text: str, idf: BigramIdf) -> dict[str, float]:
    """IDF-weighted bigrams inside the words of ``text`` (jieba, search mode): 「安全生产检查」 → 安全 全生
    生产 检查, without 「产检」, which no sentence about safety inspections holds."""
    out: dict[str, float] = {}
    for token in tokenize(normalize_for_search(text)):
        for g in bigrams(token):
            if len(g) == 2:
                out[g] = idf(g)
    return out


def is_heading(sentence: str, section_path: list[str]) -> bool:
    """A heading, not a statement: one of the passage's section headings, or a short numbered line with
    no clause in it (「1、皖北地区群众喝上引调水工程。」 heads the sub-section after it)."""
    s = sentence.strip(_TRAILING_MARKS)
    if any(h.strip(_TRAILING_MARKS) == s or (len(s) >= 4 and h.startswith(s)) for h in section_path):
        return True
    return parse_marker(s) is not None and len(s) <= _HEADING_CHARS and not CLAUSE_MARK_RE.search(s)


def clause_window(text: str, grams: dict[str, float], max_chars: int) -> tuple[int, int]:
    """The span of ``text`` (a sentence) to quote in a cell: the clause holding most of ``grams``, grown
    by neighbouring clauses (the better one first) while it fits in ``max_chars``."""
    bounds = [0, *(m.start() for m in CLAUSE_END_RE.finditer(text)), len(text)]
    clauses = [(a, b) for a, b in itertools.pairwise(bounds) if text[a:b].strip()]
    if not clauses:
        return 0, len(text)
    if len(text.strip()) <= max_chars:
        lo, hi = clauses[0][0], clauses[-1][1]
    else:
        rel = [relevance(grams, text[a:b]) for a, b in clauses]
        i = j = max(range(len(clauses)), key=lambda k: rel[k])
        while True:
            options = [k for k in (i - 1, j + 1) if 0 <= k < len(clauses)
                       and max(clauses[j][1], clauses[k][1]) - min(clauses[i][0], clauses[k][0]) <= max_chars]
            if not options:
                break
            k = max(options, key=lambda k: (rel[k], -k))
            i, j = min(i, k), max(j, k)
        lo, hi = clauses[i][0], clauses[j][1]
    piece = text[lo:hi]
    lo += len(piece) - len(piece.lstrip())
    hi -= len(piece) - len(piece.rstrip())
    return lo, hi


# What the scan model reads of a candidate sentence (one row per sentence; a report's score is its best
# sentence's): the evidence judge's verdict and how it stands out among the question's candidates, the
# share of the subject's word bigrams it holds, and its cosine to the subject. (A sentence that denies the
# subject is no candidate: too few of them in the fitting data to learn their weight, and none states it.)
SCAN_FEATURES: tuple[str, ...] = ("judge_logit", "judge_z", "subject_cover", "dense")


class ScanCalibration(BaseModel):
    """The fitted scan decision (``rag eval calibrate-scan``, eval/scan_fit.py): a logistic regression over
    :data:`SCAN_FEATURES` of a report's candidate sentences, and the one threshold its best sentence must
    reach, chosen for a stated precision. With no coefficients (the fit's first pass) the judge's
    probability is the score."""

    threshold: float = Field(description="A report is a row when its best sentence reaches this probability.")
    per_report: int = Field(description="Sentences judged per report, the nearest to the question first.")
    target_precision: float = Field(description="The stated precision the threshold was chosen for.")
    features: list[str] = Field(default_factory=list)
    mean: list[float] = Field(default_factory=list)
    scale: list[float] = Field(default_factory=list)
    coef: list[float] = Field(default_factory=list)
    intercept: float = 0.0
    embedding_dim: int = 768
    figures: dict = Field(default_factory=dict, description="Recall and precision at it, per corpus.")
    provenance: dict = Field(default_factory=dict)

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if not self.coef:
            return 1.0 / (1.0 + np.exp(-rows[:, 0]))  # the judge's own probability
        z = ((rows - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@cache
def load_calibration(path: Path = CALIBRATION_PATH) -> ScanCalibration | None:
    if not path.is_file():
        return None
    return ScanCalibration.model_validate_json(path.read_text(encoding="utf-8"))


def dump_calibration(calibration: ScanCalibration, path: Path = CALIBRATION_PATH) -> None:
    """Write ``scan.json`` aside, then rename."""
    replace_file(path, calibration.model_dump_json(indent=1) + "\n")
    load_calibration.cache_clear()


class ReportScanner:
    """Loaded once with the index; ``scan`` lists the reports that state a plan's subject.

    With the evidence judge's weights (judge.py) and a fitted scan threshold (scan.json), each allowed
    report's candidate sentences — the ``per_report`` nearest to the question by the sentence vectors, and
    those holding the subject's words — are judged by the calibrated model, and a report is a row when its
    best sentence reaches the threshold: a synonym or paraphrase counts, a sentence about a near topic or
    denying the subject does not. Without them (a test's fake encoder, before the first fit) the bigram
    bars below decide."""

    def __init__(self, retriever: Retriever, reports: Iterable[Report], scope: ScopeChecker,
                 config: AnswerConfig, judge: Judge | None = None,
                 calibration: ScanCalibration | None = None, speakers: Mapping[str, Speaker] | None = None):
        self.retriever = retriever
        self.reports = {r.id: r for r in reports}
        # who said it: the issuing body, else the body or place the report's text names (speakers.py)
        self.speakers = {rid: sp.name.strip("[]［］【】 ") for rid, sp in (speakers or {}).items()}
        self.scope = scope
        self.config = config
        self.judge = judge
        self.calibration = calibration if calibration is not None else load_calibration()
        self._rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def judged(self) -> bool:
        """Whether the scan is decided by the judge (else by the bigram bars)."""
        return (self.judge is not None and self.judge.usable and self.calibration is not None
                and self.calibration.embedding_dim == self.judge.weights.embedding_dim)  # type: ignore[union-attr]

    def compilations(self) -> dict[str, str]:
        """Each file of the library and its title (the compilation's own, else the file's name)."""
        return {r.source_file: r.compilation_title or Path(r.source_file).stem for r in self.reports.values()}

    def compilation(self, plan: QuestionPlan) -> tuple[str, str] | None:
        """The file (and its title) of the compilation the question names: the title holding the largest
        share of the name's bigrams, at least half of them (「局机关材料汇编」 → 「各级局机关2023年上半年工作
        总结暨下半年工作计划材料汇编（6篇）」). None when it names none, or none fits."""
        asked = plan.scope.compilation
        if not asked:
            return None
        grams = bigrams(normalize_for_search(asked))
        if not grams:
            return None
        share, file, title = max((len(grams & bigrams(normalize_for_search(t))) / len(grams), f, t)
                                 for f, t in self.compilations().items())
        return (file, title) if share >= COMPILATION_MATCH else None

    def where(self, plan: QuestionPlan) -> str:
        """The scope the rows were scanned in, in words (「《…材料汇编（6篇）》、2023年下半年的工作计划」;
        empty when the question limits nothing), for the answer's count line."""
        scope, parts = plan.scope, []
        if (named := self.compilation(plan)) is not None:
            parts.append(f"《{named[1]}》")
        kinds = "的".join(w for w in (scope.period, {"总结": "工作总结", "计划": "工作计划"}.get(
            scope.report_kind or "")) if w)
        if kinds:
            parts.append(kinds)
        if scope.body_kind:
            level = set(scope.body_kind) <= set("省市区县乡镇街道社村")
            parts.append(f"{scope.body_kind}{'一级单位' if level else '部门'}")
        return "、".join(parts)

    def reports_for(self, plan: QuestionPlan) -> set[str]:
        """The reports the question's scope allows: its compilation, its kind of body (a level such as 乡镇,
        or a field such as 民政), its period and report kind; every report when it names none."""
        scope = plan.scope
        ids = set(self.reports)
        if scope.compilation:
            named = self.compilation(plan)
            ids = {i for i in ids if named is not None and self.reports[i].source_file == named[0]}
        kind = scope.body_kind
        if kind:
            if set(kind) <= set("省市区县乡镇街道社村"):
                ids = {i for i in ids if (level := self.reports[i].admin_level) and level in kind}
            else:
                # a field (民政, 环保) as a word of the issuing body's official name: 「区民政局」 (not
                # 「县人民政府」), 「繁昌区生态环境分局」 for 环保 (the organ lexicon, rag/text/organs.py)
                ids = {i for i in ids if _names_field(self.reports[i].issuing_body or self.reports[i].title,
                                                      kind)}
        elif scope.body:
            ids &= {r.id for r in self.scope.issued_by(scope.body) or self.scope.located(scope.body)}
        if scope.period:
            years = re.findall(r"20\d{2}", scope.period)
            ids = {i for i in ids if not years or any(y in p for p in self.reports[i].periods for y in years)}
        if scope.report_kind:
            ids = {i for i in ids if self.reports[i].kind in (scope.report_kind, "both", None)}
        return ids

    def scan(self, plan: QuestionPlan) -> list[Mention]:
        """The best mention of the subject in each allowed report that states it, best first."""
        if self.judged:
            assert self.calibration is not None
            bar = self.calibration.threshold
            return [m for m in self.judged_mentions(plan, bar) if m.score >= bar]
        return self.bigram_mentions(plan)

    # -- judged -------------------------------------------------------------------------------------------

    def _sentence_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every sentence of the index as (chunk position, index in chunk), and the matrix of its vectors."""
        if self._rows is None:
            assert self.judge is not None
            chunks: list[int] = []
            js: list[int] = []
            vectors: list[np.ndarray] = []
            for pos, c in enumerate(self.retriever.index.chunks):
                if c.chunk_type != "text":
                    continue
                spans, vecs = self.judge.sentences_of(pos)
                chunks.extend([pos] * len(spans))
                js.extend(range(len(spans)))
                vectors.append(vecs)
            matrix = np.vstack(vectors) if vectors else np.zeros((0, 1), dtype=np.float32)
            self._rows = np.asarray(chunks, dtype=np.int64), np.asarray(js, dtype=np.int64), matrix
        return self._rows

    def judged_mentions(self, plan: QuestionPlan, bar: float = 1.0) -> list[Mention]:
        """Every allowed report's best candidate sentence under the scan model, best first — with no bar
        (``scan`` keeps those at or above the threshold) — and up to ``row_points - 1`` more of its
        sentences at or above ``bar``, in the order the report states them."""
        assert self.calibration is not None
        out = []
        alternatives = self._alternatives(plan)  # once per question, not per report
        for report, cands, rows in self.candidates(plan):
            scores = self.calibration.probabilities(rows)
            order = [int(i) for i in np.argsort(-scores, kind="stable")]
            top = order[0]
            best = self._mention(report, cands[top], alternatives, float(scores[top]), float(rows[top, 3]))
            more: list[Mention] = []
            for i in order[1:]:
                if scores[i] < bar or len(more) + 1 >= self.config.row_points:
                    break
                m = self._mention(report, cands[i], alternatives, float(scores[i]), float(rows[i, 3]))
                if all(m.end <= o.start or o.end <= m.start or m.chunk.source_file != o.chunk.source_file
                       for o in (best, *more)):
                    more.append(m)
            more.sort(key=lambda m: m.start)
            out.append(replace(best, more=tuple(more)))
        return sorted(out, key=lambda m: (-m.score, -m.dense))

    def candidates(self, plan: QuestionPlan, within: set[str] | None = None,
                   ) -> list[tuple[Report, list[Candidate], np.ndarray]]:
        """Each allowed report's candidate sentences for the plan's subject and their :data:`SCAN_FEATURES`:
        the ``per_report`` nearest to the subject by the sentence vectors, and those holding most of its
        words (``scan_min_low``) wherever the vectors put them. Headings, and sections of another half-year
        than the one asked, are not candidates. ``within``: these reports, not the plan's scope (a
        comparison's side)."""
        assert self.judge is not None and self.calibration is not None
        judge, index = self.judge, self.retriever.index
        # the subject, not the question: 「哪些单位的报告提到了」 says what to list, not what to find
        question = normalize_for_search(plan.subject or plan.facts.text)
        alternatives = self._alternatives(plan)
        allowed = self.reports_for(plan) if within is None else within
        if not allowed or not alternatives:
            return []
        chunk_of, j_of, matrix = self._sentence_rows()
        qv = judge.question_vector(question)
        sims = matrix @ qv[: matrix.shape[1]] if len(chunk_of) else np.zeros(0)
        # a chunk's rank within its report (fused dense + BM25 ranks, as the search fuses them): the judge's
        # rank feature reads the sentence's chunk as the report's n-th passage on the subject
        chunk_dense = index.dense.scores(self.retriever.query_vector(question))
        chunk_bm25 = index.bm25.scores(tokenize(question))
        fused = 1 / (61 + _order(chunk_dense)) + 1 / (61 + _order(chunk_bm25))
        per = self.calibration.per_report
        picked: dict[str, list[int]] = {}
        for row in np.argsort(-sims, kind="stable"):
            rid = index.chunks[int(chunk_of[row])].report_id
            if rid in allowed and len(picked.setdefault(rid, [])) < per:
                picked[rid].append(int(row))
        cover: dict[int, float] = {}
        for row in np.flatnonzero(np.isin(chunk_of, np.flatnonzero(chunk_bm25 > 0))):
            pos = int(chunk_of[row])
            c = index.chunks[pos]
            if c.report_id not in allowed:
                continue
            a, b = judge.sentences_of(pos)[0][int(j_of[row])]
            cover[int(row)] = max(relevance(g, c.text[a:b]) for g in alternatives)
            if cover[int(row)] >= self.config.scan_min_low:
                picked.setdefault(c.report_id, []).append(int(row))
        cands: list[Candidate] = []
        dense: list[float] = []
        covers: list[float] = []
        seen: set[tuple[str, int]] = set()
        for rows in picked.values():
            order = sorted({int(chunk_of[r]) for r in rows}, key=lambda p: -fused[p])
            rank = {p: n for n, p in enumerate(order, start=1)}
            for row in rows:
                pos, j = int(chunk_of[row]), int(j_of[row])
                c = index.chunks[pos]
                cand = judge.candidate(hit_of(c, rank[pos], float(fused[pos]), float(chunk_dense[pos]),
                                              float(chunk_bm25[pos])), pos, j)
                key = (c.report_id, cand.start)  # overlapping chunks repeat a sentence
                # a sentence that denies the subject (「无高血压病史」「否定贫血」) does not state it
                if (key in seen or is_heading(cand.text, c.section_path) or negates(cand.text, alternatives)
                        or (plan.scope.period and half_year_conflict(plan.scope.period, c.section_path))):
                    continue
                seen.add(key)
                cands.append(cand)
                dense.append(float(sims[row]))
                covers.append(cover[row] if row in cover else
                              max(relevance(g, cand.text) for g in alternatives))
        if not cands:
            return []
        judgement = judge.judge_candidates(question, plan, cands, np.asarray(dense))
        p = np.clip(np.asarray(judgement.probabilities), 1e-6, 1 - 1e-6)
        logit = np.log(p / (1 - p))
        z = (logit - logit.mean()) / (logit.std() + 1e-3)
        rows_all = np.column_stack([logit, z, covers, dense])
        by_report: dict[str, list[int]] = {}
        for i, cand in enumerate(cands):
            by_report.setdefault(cand.hit.report_id, []).append(i)
        return [(self.reports[rid], [cands[i] for i in idx], rows_all[idx]) for rid, idx in by_report.items()]

    def best_sentences(self, plan: QuestionPlan, within: set[str], n: int) -> list[tuple[float, Candidate]]:
        """The ``n`` sentences of the reports ``within`` the scan model judges best for the subject."""
        assert self.calibration is not None
        scored = [(float(p), c) for _, cands, rows in self.candidates(plan, within)
                  for c, p in zip(cands, self.calibration.probabilities(rows), strict=True)]
        return sorted(scored, key=lambda t: -t[0])[:n]

    def _mention(self, report: Report, cand: Candidate, alternatives: list[dict[str, float]], score: float,
                 dense: float) -> Mention:
        """The row of ``report``: its sentence ``cand`` cut to the clauses that hold the subject."""
        grams = max(alternatives, key=lambda g: relevance(g, cand.text))
        lo, hi = clause_window(cand.text, grams, self.config.cell_chars)
        return Mention(report, self.retriever.index.chunks[cand.chunk], cand.start + lo, cand.start + hi,
                       score, dense, speaker=self.speakers.get(report.id))

    # -- bigram bars --------------------------------------------------------------------------------------

    def _alternatives(self, plan: QuestionPlan) -> list[dict[str, float]]:
        """The subject's word bigrams, one set per alternative it names (「家政服务培训或放心家政行动」:
        a sentence stating either states the subject) — when each side names something of its own: in
        「争取或使用专项债」 「争取」 is a common verb sharing the object, not a subject."""
        norm = normalize_for_search(plan.subject or plan.facts.text)
        parts = [word_grams(part, self.retriever.idf) for part in re.split(r"或者?", norm)]
        rare = math.log(1 / _RARE_SHARE)
        alternatives = [g for g in parts if g]
        if len(alternatives) > 1 and any(max(g.values()) < rare for g in alternatives):
            alternatives = [word_grams(norm, self.retriever.idf)]
        return [g for g in alternatives if g]

    def bigram_mentions(self, plan: QuestionPlan) -> list[Mention]:
        """The scan by bars over the subject's bigrams (``scan_min``, ``scan_min_low``)."""
        cfg = self.config
        norm = normalize_for_search(plan.subject or plan.facts.text)
        tokens = tokenize(norm)
        index = self.retriever.index
        alternatives = self._alternatives(plan)
        if not tokens or not alternatives:
            return []
        allowed = self.reports_for(plan)
        lexical = index.bm25.scores(tokens)
        dense = index.dense.scores(self.retriever.encoder.encode_queries([norm])[0])
        best: dict[str, Mention] = {}
        for i in np.flatnonzero(lexical > 0):
            c = index.chunks[i]
            if c.chunk_type != "text" or c.report_id not in allowed:
                continue
            if plan.scope.period and half_year_conflict(plan.scope.period, c.section_path):
                continue
            bar = cfg.scan_min_low if dense[i] >= cfg.scan_dense_min else cfg.scan_min
            if max(relevance(g, c.text) for g in alternatives) < bar:  # the chunk: most stop here
                continue
            bounds = sentence_bounds(c.text)
            for a, b in itertools.pairwise(bounds):
                sentence = c.text[a:b]
                if not sentence.strip() or is_heading(sentence, c.section_path):
                    continue
                score, grams = max(((relevance(g, sentence), g) for g in alternatives), key=lambda x: x[0])
                if score < bar:
                    continue
                held = best.get(c.report_id)
                if held is not None and (held.score, held.dense) >= (score, float(dense[i])):
                    continue
                lo, hi = clause_window(sentence, grams, cfg.cell_chars)
                best[c.report_id] = Mention(self.reports[c.report_id], c, c.char_start + a + lo,
                                            c.char_start + a + hi, score, float(dense[i]),
                                            speaker=self.speakers.get(c.report_id))
        return sorted(best.values(), key=lambda m: (-m.score, -m.dense))
