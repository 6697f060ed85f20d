"""The no-LLM answerer: the best sentences (or passages) of the best passages, verbatim, each cited."""

from __future__ import annotations

from rag.answering.context import AskContext
from rag.answering.quantity import quantity_gap
from rag.answering.render import (
    heading_lines,
    passage_sentences,
    premise_note,
    quote_line,
    refusal,
    span_citation,
)
from rag.config import AnswerConfig
from rag.contracts import Answer
from rag.text.bigrams import relevance


def extractive_answer(ctx: AskContext, config: AnswerConfig, fallback: str | None) -> Answer:
    """At most ``config.extractive_sentences`` quotes, from passages at least half as relevant as the
    best; ``config.extractive_quote`` says whether a quote is the passage's best sentence or the passage
    (grown for quoting)."""
    max_quotes, quote = config.extractive_sentences, config.extractive_quote
    q, plan, evidence = ctx.grams, ctx.plan, ctx.evidence
    lines, citations = heading_lines(evidence)
    scored = []
    for e in evidence:
        if e.kind == "heading":
            continue
        spans = passage_sentences(e.text, e.char_start)
        # where the judge gates, its probability picks each passage's sentence (relevance breaks ties)
        rel = [(ctx.judgement.of_span(e.source_file, a, b) if ctx.judged else 0.0,
                relevance(q, e.text[a - e.char_start : b - e.char_start])) for a, b in spans]
        best = max(range(len(spans)), key=lambda i: rel[i])
        scored.append((rel[best][0] if ctx.judged else rel[best][1], e, spans, best))
    top = max((s[0] for s in scored), default=0.0)
    n_headings = len(citations)
    if plan.asks_quantity and ctx.bound:
        # The sentences that state a figure for the subject (verify/binding.py), best first.
        by_id = {e.id: e for e in evidence}
        seen: set[tuple[int, int]] = set()
        for s in ctx.bound:
            if s.withheld or (s.evidence_id, s.start) in seen or len(seen) >= max_quotes:
                continue
            seen.add((s.evidence_id, s.start))
            e = by_id[s.evidence_id]
            n = len(citations) + 1
            citations.append(span_citation(n, e, s.start, s.end))
            lines.append(quote_line(e, e.text[s.start - e.char_start : s.end - e.char_start], n))
        scored = []
    if ctx.judged:
        scored.sort(key=lambda x: -x[0])
    for score, e, spans, best in scored:
        if len(citations) - n_headings >= max_quotes or score < top / 2:
            continue
        a, b = spans[best]
        if quote == "passage":
            e = ctx.wide.get(e.id, e)
            a, b = e.char_start, e.char_end
        # a short sentence (「一是加强领导。」) says little alone: take the next one too
        elif b - a < 40 and best + 1 < len(spans):
            b = spans[best + 1][1]
        quote_text = e.text[a - e.char_start : b - e.char_start]
        n = len(citations) + 1
        citations.append(span_citation(n, e, a, b))
        lines.append(quote_line(e, quote_text, n))
    if not citations:
        return refusal(ctx, "no_claim", fallback_reason=fallback)
    gap = quantity_gap(plan, [c.quote for c in citations], ctx.bound)
    if gap:
        return refusal(ctx, gap, fallback_reason=fallback)
    text = premise_note(plan, evidence) + "报告原文中与问题最相关的内容：\n" + "\n".join(lines)
    return ctx.answer(answer=text, refused=False, citations=citations, fallback=fallback)
