"""Figures bound to what was asked: a figure answers the plan only where the text states it for the plan's
subject, in the plan's unit.

Chinese states a figure after naming what it measures, in the same sentence: 「新建少年宫项目，总投资5580万元，
…」「完成农村公路建设30公里」. A figure's *claim region* is therefore its own clause and the clauses before
it in its sentence, back to (not including) the previous clause that states a figure of its own — the figure
before that belongs to another item (「A项目总投资5580万元，B项目总投资XX万元」: B's region is its clause
alone). The section heading the sentence sits under is part of the region too (「（三）农村公路建设」 names
what 「完成30公里」 counts).

A figure is bound when its region holds the subject: the share of the subject's IDF-weighted bigrams found
there is at least ``bind_min`` (rag/config.py), and, when the question asks in a unit of measure (万元,
公里, %), the figure carries it. An amount written 「XX万元」 is a withheld figure: bound the same way, it lets
the answer say the report does not disclose it, citing that clause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.config import DEFAULTS
from rag.contracts import Evidence, QuestionPlan
from rag.text.bigrams import relevance
from rag.text.quantities import number_supported
from rag.text.question import quantities, redacted, states_unit
from rag.text.sentences import CLAUSE_END_RE, sentence_bounds

BIND_MIN = DEFAULTS.answer.bind_min  # rag/config.py: why this value
PREFIX_DISCOUNT = 0.8


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


def statements(plan: QuestionPlan, evidence: Sequence[Evidence], grams: dict[str, float]) -> list[Statement]:
    """Every clause of ``evidence`` stating (or withholding) an amount in the plan's unit, with the share of
    the subject (``grams``, its weighted bigrams) its region holds; best first."""
    out = []
    for e in evidence:
        if e.kind == "heading":
            continue
        heading = e.section_path[-1] if e.section_path else ""
        bounds = sentence_bounds(e.text)
        for a, b in zip(bounds, bounds[1:], strict=False):
            sentence = e.text[a:b]
            if not sentence.strip():
                continue
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
                    out.append(Statement(e.id, figures, withheld and not figures, clause.strip(), text.strip(),
                                         e.char_start + a + lead, e.char_start + a + len(sentence.rstrip()),
                                         score))
                if any_amount:
                    region = []  # the next figure's region starts after this one
    out.sort(key=lambda s: -s.score)
    return out


def bound(plan: QuestionPlan, evidence: Sequence[Evidence], grams: dict[str, float],
          bar: float = BIND_MIN) -> list[Statement]:
    """The statements that answer the plan: their region holds at least ``bar`` of the subject."""
    return [s for s in statements(plan, evidence, grams) if s.score >= bar]


def unbound_figures(claim: str, bound_statements: Sequence[Statement]) -> list[str]:
    """The amounts ``claim`` states that no bound statement states: figures taken from a clause about
    something else (another project's investment, another task's length)."""
    stated = "\n".join(s.region for s in bound_statements if not s.withheld)
    return [n for n in quantities(claim) if not number_supported(n, stated)]
