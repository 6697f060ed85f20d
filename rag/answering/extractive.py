"""The no-LLM answerer: the brief composed from the answer's points (brief.py), each line cited, then the
next best sentences quoted under 「原文还提到：」."""

from __future__ import annotations

from rag.answering.brief import compose, more_sentences, select_points
from rag.answering.context import AskContext
from rag.answering.quantity import quantity_gap
from rag.answering.render import premise_note, quote_line, refusal, span_citation
from rag.config import AnswerConfig
from rag.contracts import Answer


def extractive_answer(ctx: AskContext, config: AnswerConfig, fallback: str | None) -> Answer:
    """The composed brief of ``ctx.points`` (selected here when the LLM stage did not), then at most
    ``config.extractive_sentences`` further sentences quoted when ``config.complete_with_quotes`` is on."""
    plan = ctx.plan
    if not ctx.points:
        ctx.points = select_points(ctx)
    if not ctx.points:
        return refusal(ctx, "no_claim", fallback_reason=fallback)
    text, citations, left = compose(ctx, ctx.points)
    gap = quantity_gap(plan, [c.quote for c in citations], ctx.bound)
    if gap:
        return refusal(ctx, gap, fallback_reason=fallback)
    if config.complete_with_quotes != "off":
        lines = []
        # the points the brief left out, then the next best sentences: sentences, never passages
        extra = left + more_sentences(ctx, ctx.points, max(config.extractive_sentences - len(left), 0))
        for e in extra:
            n = len(citations) + 1
            citations.append(span_citation(n, e, e.char_start, e.char_end))
            lines.append(quote_line(e, e.text, n))
        if lines:
            text += "\n原文还提到：\n" + "\n".join(lines)
    text = premise_note(plan, ctx.evidence) + text
    return ctx.answer(answer=text, refused=False, citations=citations, fallback=fallback)
