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
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from rag.answering.scope import ScopeChecker
from rag.config import AnswerConfig
from rag.contracts import QuestionPlan
from rag.corpus import Report
from rag.corpus.numbering import parse_marker
from rag.retrieval.bm25 import tokenize, word_starts
from rag.retrieval.chunking import Chunk
from rag.retrieval.retriever import Retriever, half_year_conflict
from rag.text.bigrams import BigramIdf, bigrams, relevance
from rag.text.normalize import normalize_for_search
from rag.text.sentences import CLAUSE_END_RE, sentence_bounds

_TRAILING_MARKS = "。；;：:，, \u3000\t\r\n"
_HEADING_CHARS = 30
# A bigram in at most this share of the chunks names a thing (反诈, 巡视); commoner ones are verbs (争取).
_RARE_SHARE = 0.02
CLAUSE_MARK_RE = re.compile("[，,；;：:]")


def _names_field(name: str, field: str) -> bool:
    starts = word_starts(name)
    return any(m.start() in starts for m in re.finditer(re.escape(field), name))


@dataclass(frozen=True)
class Mention:
    """The clause of one report that states the subject best: a table row."""

    report: Report
    chunk: Chunk
    start: int  # absolute char offsets in the source file of the quoted clause(s)
    end: int
    score: float  # share of the subject's word bigrams in the sentence
    dense: float  # cosine of the chunk to the subject

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


class ReportScanner:
    """Loaded once with the index; ``scan`` lists the reports that state a plan's subject."""

    def __init__(self, retriever: Retriever, reports: Iterable[Report], scope: ScopeChecker,
                 config: AnswerConfig):
        self.retriever = retriever
        self.reports = {r.id: r for r in reports}
        self.scope = scope
        self.config = config

    def reports_for(self, plan: QuestionPlan) -> set[str]:
        """The reports the question's scope allows: its kind of body (a level such as 乡镇, or a field such
        as 民政), its period and report kind; every report when it names none."""
        scope = plan.scope
        ids = set(self.reports)
        kind = scope.body_kind
        if kind:
            if set(kind) <= set("省市区县乡镇街道社村"):
                ids = {i for i in ids if (level := self.reports[i].admin_level) and level in kind}
            else:
                # a field (民政) as a word of the issuing body: 「区民政局」, not 「县人民政府」
                ids &= {r.id for r in self.scope.issued_by(f"{kind}部门")
                        if _names_field(r.issuing_body or r.title, kind)}
        elif scope.body:
            ids &= {r.id for r in self.scope.issued_by(scope.body) or self.scope.located(scope.body)}
        if scope.period:
            years = re.findall(r"20\d{2}", scope.period)
            ids = {i for i in ids if not years or any(y in p for p in self.reports[i].periods for y in years)}
        if scope.report_kind:
            ids = {i for i in ids if self.reports[i].kind in (scope.report_kind, "both", None)}
        return ids

    def scan(self, plan: QuestionPlan) -> list[Mention]:
        """The best mention of the subject in each allowed report, best first."""
        cfg = self.config
        subject = plan.subject or plan.facts.text
        norm = normalize_for_search(subject)
        tokens = tokenize(norm)
        index = self.retriever.index
        # 「家政服务培训或放心家政行动」: a sentence stating either alternative states the subject
        # — when each side names something of its own: in 「争取或使用专项债」 「争取」 is a common verb
        # sharing the object, not a subject
        parts = [word_grams(part, self.retriever.idf) for part in re.split(r"或者?", norm)]
        rare = math.log(1 / _RARE_SHARE)
        alternatives = [g for g in parts if g]
        if len(alternatives) > 1 and any(max(g.values()) < rare for g in alternatives):
            alternatives = [word_grams(norm, self.retriever.idf)]
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
                                            c.char_start + a + hi, score, float(dense[i]))
        return sorted(best.values(), key=lambda m: (-m.score, -m.dense))
