"""Figures bound to what was asked: a figure answers the plan only where the text states it for the
plan's subject, in the plan's unit.

Chinese states a figure after naming what it measures, in the same sentence: 「新建少年宫项目，
总投资5580万元，…」「完成农村公路建设30公里」. A figure's *region* is its own clause and the clauses
before it, back to (not including) the previous clause that states an amount of its own — an amount before
that belongs to another item (「A项目总投资5580万元，B项目总投资XX万元」: B's region is its clause
alone). The section heading the sentence sits under counts too (「（三）农村公路建设」 names what
「完成30公里」 counts). When the topic is named once for several figures (「检查企业121家，共排查隐患
458处」) the region misses it, so the sentence up to the figure also counts, discounted.

A figure is bound when that score — the share of the subject's and measure's IDF-weighted bigrams found —
is at least ``bind_min`` (rag/config.py), and, when the question asks in a unit of measure (万元, 公里, %),
the figure carries it. An amount written 「XX万元」 is withheld: scored the same way, and when it is the
statement most about the subject, the answer says the report does not disclose it, citing that clause.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from rag.config import DEFAULTS
from rag.contracts import Evidence, QuestionPlan
from rag.text.bigrams import relevance
from rag.text.lexicon import DATE_EXPRESSION, PERSON_NAME, SELF_REFERENCES
from rag.text.quantities import number_supported
from rag.text.question import quantities, redacted, states_unit
from rag.text.sentences import CLAUSE_END_RE, passage_sentences, sentence_bounds, sentences

BIND_MIN = DEFAULTS.answer.bind_min  # rag/config.py: why this value
# Set a priori, not swept: the sentence-so-far counts a little less than the figure's own region, and a
# figure holding 80% of what the best passage holds of the subject is about the same thing.
PREFIX_DISCOUNT = 0.8
RELATIVE = 0.8


@dataclass(frozen=True)
class Statement:
    """A figure (or a withheld one) the evidence states, with the region that says what it measures."""

    evidence_id: int
    figures: tuple[str, ...]  # the amounts the clause states (empty when withheld)
    withheld: bool  # the clause writes the amount as XX
    clause: str  # the clause holding the figure
    region: str  # the clauses that name what it measures, and the clause itself
    start: int  # absolute offsets of the sentence (a citation quotes the whole sentence)
    end: int
    score: float  # share of the subject found in the region (with the section heading)


def _stated(clause: str, plan: QuestionPlan) -> tuple[tuple[str, ...], bool]:
    """The amounts ``clause`` states in the plan's unit (any amount without one), and whether it withholds
    one (「XX万元」, or 「XX套」 when the question counts in 套)."""
    unit = plan.facts.unit
    figures = tuple(n for n in quantities(clause) if not unit or states_unit(n, unit))
    withheld = redacted(clause, plan.facts.measure) or (unit is not None and redacted(clause))
    return figures, withheld


def statements(plan: QuestionPlan, evidence: Sequence[Evidence], grams: dict[str, float],
               bodies: Mapping[str, str] | None = None) -> list[Statement]:
    """Every clause of ``evidence`` stating (or withholding) an amount in the plan's unit, with the share of
    the subject (``grams``, its weighted bigrams) its region holds; best first. ``bodies``: each report's
    issuing body, read where a sentence names its author by a self-reference (「公司的排放量为…」)."""
    out = []
    for e in evidence:
        if e.kind == "heading":
            continue
        section = e.section_path[-1] if e.section_path else ""
        bounds = sentence_bounds(e.text)
        for a, b in itertools.pairwise(bounds):
            sentence = e.text[a:b]
            if not sentence.strip():
                continue
            heading = section
            if bodies and _SELF_REF_RE.search(sentence):
                heading = f"{bodies.get(e.report_id, '')} {section}"
            clauses = [c for c in CLAUSE_END_RE.split(sentence) if c.strip()]
            region: list[str] = []
            prefix = ""
            for clause in clauses:
                figures, withheld = _stated(clause, plan)
                any_amount = bool(quantities(clause)) or redacted(clause)
                region.append(clause)
                prefix += clause
                if figures or withheld:
                    text = "".join(region)
                    # Its own region first; the sentence up to it, discounted, when the topic was named
                    # before an earlier figure (「检查企业121家，共排查隐患458处」).
                    score = max(relevance(grams, f"{heading} {text}"),
                                PREFIX_DISCOUNT * relevance(grams, f"{heading} {prefix}")) if grams else 1.0
                    lead = len(sentence) - len(sentence.lstrip())
                    out.append(Statement(e.id, figures, withheld and not figures, clause.strip(),
                                         text.strip(),
                                         e.char_start + a + lead, e.char_start + a + len(sentence.rstrip()),
                                         score))
                if any_amount:
                    region = []  # the next figure's region starts after this one
    wanted = qualifiers(plan)
    if wanted:
        out = [s for s in out if all(q in s.region for q in wanted)]
    out.sort(key=lambda s: -s.score)
    return out


# An ordinal that singles out one item among several: 「第二批」「二期」「第十四届」. A figure for
# 「第一批」 is not one for 「第二批」, however alike the rest of the clause.
_SELF_REF_RE = re.compile(SELF_REFERENCES)
_ORDINAL_RE = re.compile(r"第?[一二三四五六七八九十\d]{1,3}(?:批|期|届|轮|标段|号)")
_DETAIL_RE = {"date": re.compile(DATE_EXPRESSION), "name": re.compile(PERSON_NAME)}


def qualifiers(plan: QuestionPlan) -> list[str]:
    """The ordinals of the subject that a figure's region must repeat."""
    return _ORDINAL_RE.findall(plan.subject)


def states_detail(plan: QuestionPlan, evidence: Sequence[Evidence], grams: dict[str, float],
                  bar: float = BIND_MIN, answers: Callable[[Evidence, int, int], bool] | None = None) -> bool:
    """Whether a sentence about the subject (with its heading) states the date or name the plan asks — or
    one the evidence judge says answers the plan (``answers``: the passage and the sentence's absolute
    offsets), as for figures: 「刑期从哪天算起」 asked, 「刑期自2023年5月22日起算」 written."""
    pattern = _DETAIL_RE.get(plan.asks or "")
    if pattern is None:
        return True
    if any(pattern.search(s) and relevance(grams, f"{heading} {s}") >= bar
           for heading, s in _headed_sentences(evidence)):
        return True
    return answers is not None and any(
        pattern.search(e.text[a - e.char_start : b - e.char_start]) and answers(e, a, b)
        for e in evidence if e.kind != "heading" for a, b in passage_sentences(e.text, e.char_start))


def _headed_sentences(evidence: Sequence[Evidence]) -> Iterator[tuple[str, str]]:
    """Each sentence of the passages (sub-heading items left out), with the heading it sits under."""
    for e in evidence:
        if e.kind != "heading":
            heading = e.section_path[-1] if e.section_path else ""
            yield from ((heading, s) for s in sentences(e.text))


def bound(plan: QuestionPlan, evidence: Sequence[Evidence], grams: dict[str, float],
          bar: float = BIND_MIN, bodies: Mapping[str, str] | None = None,
          answers: Callable[[Evidence, Statement], bool] | None = None) -> list[Statement]:
    """The statements that answer the plan: their region holds at least ``bar`` of the subject — or, when
    the question's wording holds words no passage has (「调整后」「建议加大…时引用的」), at least half of
    ``bar`` and as much of the subject as the passage most about it (:data:`RELATIVE`): words the reports
    never use cannot be asked of the figure's clause — or when ``answers`` (the evidence judge) says the
    sentence answers the plan (a paraphrase: 「排放总量」 asked, 「排放量」 written)."""
    found = statements(plan, evidence, grams, bodies)
    best = max((relevance(grams, f"{heading} {s}") for heading, s in _headed_sentences(evidence)),
               default=0.0)
    by_id = {e.id: e for e in evidence}
    return [s for s in found
            if s.score >= bar or (s.score >= bar / 2 and best and s.score >= RELATIVE * best)
            or (answers is not None and answers(by_id[s.evidence_id], s))]


def unbound_figures(claim: str, bound_statements: Sequence[Statement]) -> list[str]:
    """The amounts ``claim`` states that no bound statement states: figures taken from a clause about
    something else (another project's investment, another task's length)."""
    stated = "\n".join(s.region for s in bound_statements if not s.withheld)
    return [n for n in quantities(claim) if not number_supported(n, stated)]
