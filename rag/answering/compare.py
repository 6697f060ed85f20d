"""Comparisons: one sub-plan per side, evidence for each side apart, a table aligned by aspect.

「县水利局和区税务局下半年的重点工作有何不同？」 retrieved as one question lets the report that matches
best crowd the other out of the evidence. Here each side of the plan (its own body, place or period) is
resolved to the reports that are that side's, and searched only there; each side's sentences are ranked
for the subject, and a figure is taken only where it is bound to the subject (verify/binding.py) within its
own side's passages — one side's figure can never fill the other's cell. A side that states nothing on an
aspect gets 「未提及」.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from rag.answering.evidence import EvidenceSelector, whole_passage
from rag.answering.scan import ReportScanner, clause_window, is_heading, word_grams
from rag.answering.scope import ScopeChecker
from rag.answering.verify.binding import bound
from rag.config import AnswerConfig
from rag.contracts import Evidence, QuestionPlan, Scope
from rag.corpus import Report
from rag.corpus.numbering import parse_marker
from rag.retrieval.retriever import Filters, Retriever, half_year_conflict
from rag.text.bigrams import relevance
from rag.text.lexicon import PLACE_UNITS
from rag.text.normalize import normalize_for_search
from rag.text.question import body_core, quantities
from rag.text.sentences import sentence_bounds

# How many reports one side may span (a body with a summary and a plan), and aspects a table shows.
_SIDE_REPORTS = 2
_MAX_ASPECTS = 6
_SIDE_PASSAGES = 6  # passages a side's points are chosen from
_RANK_WEIGHT = 0.2
# A side's description picks its reports when a report's text holds this share of it; reports within the
# slack of the best stay (a body's summary and its plan both hold it).
_DETAIL_MIN = 0.5
_DETAIL_SLACK = 0.1
_THAT_ONE_RE = re.compile(r"的?那(?:个|所|家|份|位)")
# The words a description picks a report by are its names and terms; these only carry it (「…所在的」
# 「负责…的」「建了…的」).
_DESCRIBING_RE = re.compile(r"所在|位于|负责|提到了?|提出了?|推行|打造|建了|搞|办|有|申报|组建|联合|跟|签了|"
                            r"写|出名|以|为|的|了|和|与|、")
# Two sentences are about the same aspect when one holds this share of the other's word bigrams.
_SAME_ASPECT = 0.25


@dataclass(frozen=True)
class Point:
    """One cell's clause: a side's sentence (or figure) about the subject, with its passage."""

    evidence: Evidence
    start: int  # absolute offsets of the quoted clause(s)
    end: int
    score: float
    heading: str  # the section heading it sits under, marker removed (the aspect's name)

    @property
    def text(self) -> str:
        e = self.evidence
        return e.text[self.start - e.char_start : self.end - e.char_start]


@dataclass
class Side:
    label: str
    scope: Scope
    reports: list[Report]
    evidence: list[Evidence] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)


def side_label(scope: Scope) -> str:
    return scope.label or scope.body or scope.place or scope.period or "—"


class Comparer:
    """Loaded once with the index; ``sides`` resolves a plan's sides, ``points`` fills them."""

    def __init__(self, retriever: Retriever, reports: list[Report], scope: ScopeChecker,
                 selector: EvidenceSelector, config: AnswerConfig, scanner: ReportScanner | None = None):
        self.retriever = retriever
        self.reports = reports
        self.scope = scope
        self.selector = selector
        self.config = config
        self.scanner = scanner  # judges a side's sentences where none holds the subject's words

    def _side_reports(self, scope: Scope) -> list[Report]:
        """The reports that are this side's. First those of its body (by header or by place and field) or
        place; when the side also says which one (「推行‘三个五’工作机制的那个」, a place such as 淮南), those
        whose text holds most of it. When none of them holds it, or the side has no body, the description is
        looked for in every report (「毛坊村所在的那个镇」)."""
        found: list[Report] = []
        if scope.body:
            found = self.scope.issued_by(scope.body)
            found += [r for r in self.scope.located(scope.body) if r not in found]
        elif scope.place:
            name = re.sub(rf"(?:{PLACE_UNITS})$", "", scope.place) or scope.place
            found = [r for r in self.reports if scope.place in r.title or name in (r.issuing_body or "")
                     or self.scope.texts[r.id].count(normalize_for_search(name)) >= 5]
        if scope.period:
            years = re.findall(r"20\d{2}", scope.period)
            found = [r for r in found if not years or any(y in p for p in r.periods for y in years)] or found
        label = _DESCRIBING_RE.sub(" ", _THAT_ONE_RE.sub(" ", scope.label or ""))
        # the organ says nothing a report's text could be told apart by; its place and description do
        detail = label.replace(body_core(scope.body), " ") if scope.body else label
        grams = word_grams(detail, self.retriever.idf)
        if found and not grams:
            return found
        narrowed = self._holding(found, grams)
        if narrowed is not None:
            return narrowed
        if scope.label:
            anywhere = self._holding(list(self.reports), word_grams(label, self.retriever.idf))
            if anywhere:
                return anywhere
        return found

    def _holding(self, reports: list[Report], grams: dict[str, float]) -> list[Report] | None:
        """The reports whose text holds most of ``grams`` (None when none holds enough, or no grams)."""
        if not grams or not reports:
            return None
        held = {r.id: relevance(grams, self.scope.texts[r.id]) for r in reports}
        top = max(held.values())
        if top < _DETAIL_MIN:
            return None
        return [r for r in reports if held[r.id] >= top - _DETAIL_SLACK]

    def sides(self, plan: QuestionPlan) -> list[Side] | None:
        """The plan's two sides with their reports, or None when a side cannot be found in the corpus or
        both sides come down to the same passages (then the ordinary answer serves)."""
        if len(plan.sides) < 2:
            return None
        first, second = plan.sides[:2]
        if first == second:  # 「两个区财政局」: the two reports of that body most about the subject
            return self._two_of(plan, first)
        sides = [Side(side_label(s), s, self._side_reports(s)) for s in (first, second)]
        # a report both sides resolve to belongs to the side it is the only report of (「那个区税务局（2023年
        # 下半年工作计划）」 matches two tax bureaus; the other side names one of them)
        for a, b in ((sides[0], sides[1]), (sides[1], sides[0])):
            own = [r for r in a.reports if r not in b.reports]
            if own and len(b.reports) < len(a.reports):
                a.reports = own
        if any(not s.reports for s in sides):
            return None
        same = {r.id for r in sides[0].reports} == {r.id for r in sides[1].reports}
        if same and sides[0].scope.period == sides[1].scope.period:
            return None
        return sides

    def _two_of(self, plan: QuestionPlan, scope: Scope) -> list[Side] | None:
        reports = self._side_reports(scope)
        assert scope.body is not None
        # 「两个区财政局」: a 市财政局 matches the organ, not the level
        exact = [r for r in reports if scope.body in f"{r.title} {r.issuing_body or ''}"]
        reports = exact if len(exact) >= 2 else reports
        if len(reports) < 2:
            return None
        about = " ".join(w for w in (plan.subject, plan.measure) if w) or plan.facts.text
        hits = self.retriever.search(about, k=20, filters=Filters(report_ids=[r.id for r in reports]))
        best = list(dict.fromkeys(h.report_id for h in hits))[:2]
        if len(best) < 2:
            return None
        by_id = {r.id: r for r in reports}
        return [Side(f"{by_id[i].issuing_body or scope.body}（《{by_id[i].title}》）", scope, [by_id[i]])
                for i in best]

    def fill(self, plan: QuestionPlan, sides: list[Side], question: str) -> None:
        """Each side's evidence, searched in its own reports only, and its points for the subject."""
        about = " ".join(w for w in (plan.subject, plan.measure) if w) or question
        grams = word_grams(about, self.retriever.idf)
        for side in sides:
            ids = [r.id for r in side.reports]
            found = self.retriever.search(about, k=max(self.config.k, 8), filters=Filters(report_ids=ids))
            hits = [h for h in found if h.chunk_type == "text"]  # an outline holds headings, not statements
            if side.scope.period:
                hits = [h for h in hits if not half_year_conflict(side.scope.period, h.section_path)]
            # the side's best reports only: a body with many reports is represented by the most relevant
            keep = list(dict.fromkeys(h.report_id for h in hits))[:_SIDE_REPORTS]
            hits = [h for h in hits if h.report_id in keep]
            side.evidence = [whole_passage(h, i, h.score) for i, h in enumerate(hits[:_SIDE_PASSAGES], 1)]
            if plan.facts.asks_quantity:
                # a figure question: the side's bound figures, then its other sentences stating a figure on
                # the subject (a question often asks two: 「尽责率…各建了几个示范点」); none: 「未提及」
                figures = self._figures(plan, side, grams)
                more = [p for p in self._sentences(side, grams) if quantities(p.text)
                        and not any(p.evidence.id == f.evidence.id and p.start < f.end and f.start < p.end
                                    for f in figures)]
                side.points = (figures + more)[:_MAX_ASPECTS]
                continue
            side.points = self._sentences(side, grams)
            if not side.points:
                # no sentence holds the subject's words (「刑期」 where a judgment says 「判处有期徒刑四年」,
                # 「重点工作」): the side's sentences the report scan judges best, else what its search found
                side.points = self._judged(plan, side, 2) or self._sentences(side, {}, floor=0.0)[:2]

    def _judged(self, plan: QuestionPlan, side: Side, n: int) -> list[Point]:
        """The side's ``n`` sentences the report scan's model judges best for the subject (scan.py), each
        with its chunk as a passage of the side; none without a fitted scan."""
        if self.scanner is None or not self.scanner.judged:
            return []
        grams = word_grams(plan.subject or plan.facts.text, self.retriever.idf)
        by_chunk = {e.chunk_id: e for e in side.evidence}
        points = []
        for p, c in self.scanner.best_sentences(plan, {r.id for r in side.reports}, n):
            chunk = self.retriever.index.chunks[c.chunk]
            e = by_chunk.get(chunk.chunk_id)
            if e is None:
                e = by_chunk[chunk.chunk_id] = whole_passage(chunk, len(side.evidence) + 1, p)
                side.evidence.append(e)
            lo, hi = clause_window(c.text, grams, self.config.cell_chars)
            points.append(Point(e, c.start + lo, c.start + hi, p, _heading(e)))
        return points

    def _figures(self, plan: QuestionPlan, side: Side, grams: dict[str, float]) -> list[Point]:
        by_id = {e.id: e for e in side.evidence}
        points, seen = [], set()
        for s in bound(plan, side.evidence, grams, self.config.bind_min):
            if s.withheld or (s.evidence_id, s.start) in seen:
                continue
            seen.add((s.evidence_id, s.start))
            e = by_id[s.evidence_id]
            sentence = e.text[s.start - e.char_start : s.end - e.char_start]
            lo, hi = clause_window(sentence, grams, self.config.cell_chars)
            points.append(Point(e, s.start + lo, s.start + hi, s.score, _heading(e)))
        return points[:_MAX_ASPECTS]

    def _sentences(self, side: Side, grams: dict[str, float], floor: float | None = None) -> list[Point]:
        """The side's sentences that state the subject (hold ``floor`` of it, subject_min by default), best
        first (the search's order breaks ties); headings alone are not points."""
        floor = self.config.subject_min if floor is None else floor
        scored = []
        for e in side.evidence:
            for a, b in itertools.pairwise(sentence_bounds(e.text)):
                sentence = e.text[a:b]
                if not sentence.strip() or is_heading(sentence, e.section_path):
                    continue
                # the sentence's own words first: a heading lends all its sentences the subject
                score = max(relevance(grams, sentence), 0.5 * relevance(grams, f"{_heading(e)} {sentence}"))
                if score < floor:
                    continue
                score += _RANK_WEIGHT / e.id  # the search's order: its dense half reads meaning
                lo, hi = clause_window(sentence, grams, self.config.cell_chars)
                scored.append(Point(e, e.char_start + a + lo, e.char_start + a + hi, score, _heading(e)))
        scored.sort(key=lambda p: -p.score)
        out: list[Point] = []
        for p in scored:
            if len(out) >= _MAX_ASPECTS:
                break
            if all((p.evidence.source_file, p.start) != (q.evidence.source_file, q.start) for q in out):
                out.append(p)  # overlapping passages hold the same sentence twice
        return out


def aligned_rows(sides: list[Side], subject: str) -> list[tuple[str, Point | None, Point | None]]:
    """Rows of (aspect, side A's point, side B's point): each of A's points beside the B point most about
    the same thing (a share of bigrams), B's other points beside A's unmatched ones in rank order, then
    alone. A cell is None (「未提及」) only when its side has no further point on the subject."""
    free = list(sides[1].points)
    rows: list[tuple[str, Point | None, Point | None]] = []
    for p in sides[0].points:
        match = None
        if free:
            grams = dict.fromkeys(_grams_of(p.text), 1.0)
            sim = [relevance(grams, q.text) for q in free]
            i = max(range(len(free)), key=lambda k: sim[k])
            if sim[i] >= _SAME_ASPECT:
                match = free.pop(i)
        rows.append((p.heading, p, match))
    for i, (aspect, a, b) in enumerate(rows):
        if b is None and free:
            # set beside it by rank, not by topic: the aspect names both sides' headings when they differ
            b = free.pop(0)
            if b.heading and b.heading != aspect:
                aspect = f"{aspect}／{b.heading}" if aspect else b.heading
            rows[i] = (aspect, a, b)
    rows.extend((q.heading, None, q) for q in free)
    return [(aspect or subject, p, q) for aspect, p, q in rows[:_MAX_ASPECTS]]


def _grams_of(text: str) -> set[str]:
    norm = normalize_for_search(text)
    return {norm[i : i + 2] for i in range(len(norm) - 1)}


def _heading(e: Evidence) -> str:
    """The passage's section heading without its number: the aspect it is about."""
    if not e.section_path:
        return ""
    heading = e.section_path[-1]
    marker = parse_marker(heading)
    if marker is not None:
        heading = heading[marker.rest_start :]
    return heading.strip(" 。，,：:；;")[:16]
