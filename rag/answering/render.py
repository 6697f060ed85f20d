"""Answer text and citations, in one place: quote lines, citations narrowed to the supporting sentences,
the list of sub-headings, the premise note and the refusal that points to the nearest sections."""

from __future__ import annotations

from collections.abc import Sequence

from rag.answering.context import AskContext
from rag.answering.prompt import evidence_label
from rag.answering.verify import DEFAULT_THRESHOLD, extract_numbers, number_supported, support_score
from rag.answering.verify.binding import Statement
from rag.contracts import Answer, Citation, Evidence, QuestionPlan, RefusalCode, Unsupported
from rag.text.sentences import passage_sentences

__all__ = ["passage_sentences"]  # the extractive answer's sentence spans, from rag.text.sentences


def span_citation(n: int, e: Evidence, start: int, end: int) -> Citation:
    """Citation ``n`` quoting ``e``'s source from absolute offset ``start`` to ``end``."""
    quote = e.text[start - e.char_start : end - e.char_start]
    line_start = e.line_start + e.text[: start - e.char_start].count("\n")
    return Citation(n=n, quote=quote, line_start=line_start, line_end=line_start + quote.count("\n"),
                    char_start=start, char_end=end,
                    **e.model_dump(include={"report_id", "report_title", "source_file", "section_id",
                                            "section_path"}))


def quote_line(e: Evidence, quote: str, n: int) -> str:
    """An answer line quoting ``quote`` from passage ``e`` verbatim (whitespace folded), cited [n]."""
    return f"{evidence_label(e)}：「{' '.join(quote.split())}」[{n}]"


def citation_for(n: int, e: Evidence, claims: Sequence[str]) -> Citation:
    """Citation ``n`` for passage ``e``, its quote narrowed to the sentences that support ``claims``."""
    start, end = e.char_start, e.char_end
    spans = passage_sentences(e.text, e.char_start)
    if claims and len(spans) > 1:
        picked = []
        texts = [e.text[a - e.char_start : b - e.char_start] for a, b in spans]
        for claim in claims:
            scores = [support_score(claim, t) for t in texts]
            # The sentence that states the claim's numbers: a bare figure (「27.3%」) has too little text to
            # be placed by its words alone.
            numbers = extract_numbers(claim)
            stating = [i for i, t in enumerate(texts)
                       if numbers and all(number_supported(n, t) for n in numbers)]
            best = max(stating or range(len(spans)), key=lambda i: scores[i])
            # a claim drawn from several sentences keeps the whole passage
            if scores[best] >= DEFAULT_THRESHOLD or len(stating) == 1:
                picked.append(best)
            else:
                picked = list(range(len(spans)))
                break
        if picked:
            start, end = spans[min(picked)][0], spans[max(picked)][1]
    return span_citation(n, e, start, end)


def checked_evidence(evidence: Sequence[Evidence]) -> dict[int, str]:
    """The passages as the checker sees them. The label rides along: a sentence may name the body or the
    period from the report title."""
    return {e.id: f"{evidence_label(e)}\n{e.text}" for e in evidence}


def heading_lines(evidence: Sequence[Evidence], first_n: int = 1) -> tuple[list[str], list[Citation]]:
    """The sub-headings an enumeration question is answered by, one cited line each."""
    headings = [e for e in evidence if e.kind == "heading"]
    if not headings:
        return [], []
    parent = headings[0].section_path[:-1]
    lines = [f"《{headings[0].report_title}》{parent[-1] if parent else ''}下列各项："]
    citations = []
    for i, e in enumerate(headings, start=first_n):
        citations.append(span_citation(i, e, e.char_start, e.char_end))
        lines.append(f"「{' '.join(e.text.split())}」[{i}]")
    return lines, citations


def missing_premises(plan: QuestionPlan, evidence: Sequence[Evidence]) -> list[str]:
    """Figures the question takes for granted that the passages do not state."""
    text = "\n".join(e.text for e in evidence)
    return [n for n in plan.premises if not number_supported(n, text)]


def premise_note(plan: QuestionPlan, evidence: Sequence[Evidence]) -> str:
    missing = missing_premises(plan, evidence)
    if not missing:
        return ""
    return f"注意：所引材料中没有问题里的「{'」「'.join(missing)}」，以下以材料为准。\n"


def missing_target(ctx: AskContext, code: RefusalCode) -> str:
    """The one sentence a refusal opens with: what the reports do not give."""
    plan = ctx.plan
    target = plan.target or "问题所问的内容"
    if code == "not_stated":
        return f"报告中没有给出{target}的具体数字" if plan.asks_quantity else f"报告中没有给出{target}"
    if code == "off_topic":
        return f"报告中没有关于「{plan.subject}」的内容" if plan.subject else "报告中没有与问题相关的内容"
    if code == "no_passages":
        return "报告中没有检索到与问题相关的段落"
    return f"报告中没有给出{target}"


def withheld_answer(ctx: AskContext, statement: Statement) -> Answer:
    """「报告未公开…的具体数字：原文为“总投资XX万元”[1]」: the clause that withholds it, cited."""
    e = next(e for e in ctx.evidence if e.id == statement.evidence_id)
    citation = span_citation(1, e, statement.start, statement.end)
    target = ctx.plan.target or "所问"
    reason = f"报告未公开{target}的具体数字"
    text = f"{reason}：原文为“{' '.join(statement.region.split()).rstrip('，,；;。')}”[1]。"
    return ctx.answer(answer=text, refused=True, refusal_reason=reason, refusal_code="withheld",
                      citations=[citation])


def refusal(ctx: AskContext, code: RefusalCode, reason: str | None = None,
            unsupported: list[Unsupported] | None = None, fallback_reason: str | None = None) -> Answer:
    """One sentence saying what the reports lack (``reason``, or said for ``code`` from the plan), then the
    (at most three) nearest sections."""
    if code == "withheld" and ctx.bound:
        return withheld_answer(ctx, next(s for s in ctx.bound if s.withheld))
    reason = reason or missing_target(ctx, code)
    citations: list[Citation] = []
    lines: list[str] = []
    seen: set[str] = set()
    for e in ctx.evidence:
        if e.section_id in seen or len(citations) >= 3:
            continue
        seen.add(e.section_id)
        n = len(citations) + 1
        citations.append(citation_for(n, e, []))
        lines.append(f"[{n}] {e.report_title} › {' › '.join(e.section_path) or '正文'}")
    text = f"{reason}。"
    if lines:
        text += "最接近的章节如下，供参考：\n" + "\n".join(lines)
    return ctx.answer(answer=text, refused=True, refusal_reason=reason, refusal_code=code,
                      citations=citations,
                      unsupported=unsupported or [], fallback=fallback_reason)
