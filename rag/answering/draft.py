"""The LLM stage's answer: the model's draft, checked sentence by sentence (verify/) against the points it
was shown (brief.py), its citations renumbered and narrowed, then completed with verbatim quotes of the
sentences it left out. A draft with nothing checkable falls back to the composed brief, never a dump."""

from __future__ import annotations

import re

from rag.answering.brief import clause_line, more_sentences
from rag.answering.context import AskContext
from rag.answering.extractive import extractive_answer
from rag.answering.quantity import quantity_gap
from rag.answering.render import (
    checked_evidence,
    citation_for,
    heading_lines,
    premise_note,
    quote_line,
    span_citation,
)
from rag.answering.verify import AnswerCheck, check_answer
from rag.answering.verify.binding import unbound_figures
from rag.config import AnswerConfig
from rag.contracts import Answer, Unsupported

_MARKER_RE = re.compile(r"\[(\d+)\]")


def answer_from_draft(ctx: AskContext, draft: str, config: AnswerConfig, model: str | None) -> Answer:
    plan = ctx.plan
    check = check_answer(draft, checked_evidence(ctx.points), unbound=(
        (lambda claim: unbound_figures(claim, ctx.bound)) if plan.asks_quantity else None))
    unsupported = [Unsupported(text=s.text, reason=s.reason) for s in check.dropped if s.text.strip()]
    claims = [s for s in check.kept if s.supported]
    if not claims:
        # The model refused or said nothing checkable. Retrieval passed the relevance bar, so compose the
        # brief from the points rather than refuse on the model's say-so; a quantity question still needs a
        # number.
        answer = extractive_answer(ctx, config,
                                   "the LLM draft had no supported sentence; answered extractively")
        return answer.model_copy(update={"unsupported": unsupported + answer.unsupported})
    if quantity_gap(plan, [s.text for s in claims], ctx.bound):
        # The brief left out the figure the passages state for the subject (a bound one exists, or the
        # question was refused before generation): quote them rather than refuse.
        answer = extractive_answer(ctx, config,
                                   "the LLM draft did not state the amount asked; answered extractively")
        return answer.model_copy(update={"unsupported": unsupported + answer.unsupported})
    return _cited(ctx, check, unsupported, config, model)


def _cited(ctx: AskContext, check: AnswerCheck, unsupported: list[Unsupported], config: AnswerConfig,
           model: str | None) -> Answer:
    points, plan = ctx.points, ctx.plan
    by_id = {e.id: e for e in points}
    order = check.used_evidence
    renumber = {old: n for n, old in enumerate(order, start=1)}
    claims_of: dict[int, list[str]] = {i: [] for i in order}
    for s in check.kept:
        for i in s.final_markers:
            claims_of[i].append(s.text)
    citations = [citation_for(renumber[i], by_id[i], claims_of[i]) for i in order]
    text = _MARKER_RE.sub(lambda m: f"[{renumber.get(int(m.group(1)), m.group(1))}]", check.text)
    how = config.complete_with_quotes
    if how != "off" and plan.asks_quantity:
        # A quantity brief stands on its own numbers; the sentences it took them from follow verbatim: the
        # reader sees each figure in its context, and a small model's brief often keeps one of two figures
        # asked for (「多少个乡镇和村」). Measured in eval/README.md.
        lines = [quote_line(by_id[i], c.quote, c.n) for i, c in zip(order, citations, strict=True)]
        text += "\n原文：\n" + "\n".join(lines)
    elif how != "off":
        headings = [e for e in points if e.kind == "heading" and e.id not in renumber]
        if headings:
            lines, extra_citations = heading_lines(headings, first_n=len(citations) + 1)
            citations.extend(extra_citations)
            text += "\n" + "\n".join(lines)
        # the points the model left uncited complete the brief as the composed answer states them (a clause
        # each, cited): the second half of a two-part question, the items of a list it dropped
        uncited = [p for p in points if p.kind != "heading" and p.id not in renumber]
        if uncited:
            lines = []
            for p in uncited:
                n = len(citations) + 1
                citations.append(span_citation(n, p, p.char_start, p.char_end))
                lines.append(f"{clause_line(ctx, p)}[{n}]。")
            text += "\n此外：\n" + "\n".join(lines)
        # then the next best sentences, quoted: sentences, never passages
        extra = more_sentences(ctx, points, config.extractive_sentences)
        if extra:
            lines = []
            for e in extra:
                n = len(citations) + 1
                citations.append(span_citation(n, e, e.char_start, e.char_end))
                lines.append(quote_line(e, e.text, n))
            text += "\n原文还提到：\n" + "\n".join(lines)
    text = premise_note(plan, ctx.evidence) + text
    return ctx.answer(answer=text.strip(), refused=False, citations=citations, unsupported=unsupported,
                      model=model if ctx.mode == "llm" else None)
