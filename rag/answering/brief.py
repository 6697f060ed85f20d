"""The answer's points and its brief: the few sentences that answer the plan, and an answer built from them.

*Points* are the best sentences of the evidence passages — by the evidence judge's probability where it
gates (judge.py), else by the question's bigrams — each an :class:`Evidence` of its own (a verbatim span
that a citation quotes whole). They are what the LLM's prompt shows (2–5 sentences, not passages: the
prompt's length is the first token's latency on CPU) and what the composed brief is cut from.

The *composed brief* is the answer without the LLM (extractive mode, and the LLM's fallback when its draft
fails the checks). It states the answer first, shaped by the plan's kind:

- quantity: the subject, then the clause stating the bound figure (「…：完成第一批8个镇的…[1]」);
- fact / date / name: the subject, then the clause of the best sentence;
- list: the items, one line each (the section's sub-headings when the question is answered by them);
- why / how: 2–3 sentences; summary: up to 5 points — one line each, each cited.

A whole passage is never the answer: passages stay one click away in the citations.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answering.context import AskContext
from rag.answering.render import span_citation
from rag.answering.verify import DEFAULT_THRESHOLD, support_score
from rag.contracts import Citation, Evidence, QuestionPlan
from rag.text.bigrams import relevance
from rag.text.items import ENUMERATOR_RE
from rag.text.sentences import CLAUSE_END_RE, passage_sentences

# How many points each plan kind gets, and their characters in all (the prompt's evidence). Set a priori from
# the shapes the issue asks for (one figure; 2–3 sentences; up to 5 points), then measured in eval/README.md.
POINTS_BY_KIND = {"quantity": 3, "fact": 3, "list": 5, "why_how": 4, "summary": 5, "compare": 4}
POINT_CHARS = 180
LIST_POINT_CHARS = 300
# A longer sentence is cut to its clauses about the question (contiguous, verbatim) before the prompt.
POINT_SENTENCE_CHARS = 100
ITEM_SENTENCE_CHARS = 150  # ... an item of a list, a reason or a measure keeps more of its sentence
# Characters of points the LLM's prompt holds: ≈200 new prompt tokens at most with the question and labels,
# 2 s on a CPU evaluating 100 prompt tokens/s (eval/README.md, "Answers, not quote dumps").
PROMPT_CHARS = 200
# A question asking for a list's items (「哪几方面」「哪四个」, plan.facts.asks_items) is answered by a list
# the report writes as enumerated sentences (「一是…二是…」) when there are no sub-headings: all its items,
# at most this many, each its leading clauses within ITEM_CHARS.
ITEMS_MAX = 10
ITEM_CHARS = 60
# A sentence this short says little alone (「一是加强领导。」): the next one is taken with it.
SHORT_SENTENCE = 24
# A clause of the brief longer than this is cut to its best clauses (a report's sentence can run 200
# characters; the brief names the answer, the citation quotes the whole sentence).
CLAUSE_CHARS = 90
# Bound figures a quantity brief states, one line each (「多少户、多少人」 asks two).
QUANTITY_LINES = 3
# ... each holding at least this share of what the best bound figure's clauses hold of the subject
# (binding.py's RELATIVE: a figure as much about the subject as the best one).
RELATIVE_BOUND = 0.8
# A further point must be at least this share as likely (or relevant) as the best one.
RELATIVE_POINT = 0.5

_TRAILING_STOPS = "，,；;。：:、 "  # stripped, not matched: a `[…]+$` search is quadratic on a run of them
_QUESTION_CHARS = "哪什几多啥谁"
_ASKS_RE = re.compile(r"多少|几(?![乎]|方面)")
# A line of a passage that is a heading (「一、2022年上半年工作总结」): numbered, short, no sentence mark.
_HEADING_LINE_RE = re.compile(r"^(?:[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十\d]{1,3}[)）]|"
                              r"\d{1,2}[、.．])[^。；;!?！？]{0,40}$")


@dataclass(frozen=True)
class _Sentence:
    evidence: Evidence
    start: int
    end: int
    text: str
    score: tuple[float, float]  # (judged probability or 0, bigram relevance)
    rank: int  # the passage's position in the evidence


def _sentences(ctx: AskContext) -> list[_Sentence]:
    """The sentences of the passages, each scored; a heading line inside a passage is no answer."""
    out: list[_Sentence] = []
    lines: list[_Sentence] = []
    for rank, e in enumerate(ctx.evidence):
        if e.kind == "heading":
            continue
        headings = {"".join(h.split()) for h in e.section_path}
        for a, b in passage_sentences(e.text, e.char_start):
            text = e.text[a - e.char_start : b - e.char_start]
            p = ctx.judgement.of_span(e.source_file, a, b) if ctx.judged else 0.0
            sentence = _Sentence(e, a, b, text, (p, relevance(ctx.grams, text)), rank)
            heading_line = "".join(text.split()) in headings or _HEADING_LINE_RE.match(text)
            (lines if heading_line else out).append(sentence)
    return out or lines  # passages of headings alone (an outline hit): their lines are what there is


def prompt_points(points: Sequence[Evidence]) -> list[Evidence]:
    """The points the LLM is shown: the first ones within :data:`PROMPT_CHARS` (at least one). Their length
    is the first token's latency; the points it is not shown complete its brief as composed lines
    (draft.py)."""
    out: list[Evidence] = []
    used = 0
    for p in points:
        if out and used + len(p.text) > PROMPT_CHARS:
            break
        out.append(p)
        used += len(p.text)
    return out


def _rank(ctx: AskContext, s: _Sentence) -> tuple[float, float]:
    """What orders sentences: the judge's probability (bigrams break ties) where it gates, else bigrams."""
    return s.score if ctx.judged else (s.score[1], 0.0)


def _best_of(ctx: AskContext, cands: Sequence[_Sentence]) -> _Sentence:
    return max(cands, key=lambda s: _rank(ctx, s))


def _within(e: Evidence, heading: Evidence) -> bool:
    """Whether passage ``e`` is the own text of the section that ``heading`` is a sub-heading of."""
    return e.report_id == heading.report_id and e.section_path == heading.section_path[:-1]


def _span(e: Evidence, start: int, end: int, n: int) -> Evidence:
    """Passage ``e`` narrowed to [start, end), numbered ``n``."""
    text = e.text[start - e.char_start : end - e.char_start]
    line_start = e.line_start + e.text[: start - e.char_start].count("\n")
    return e.model_copy(update={"id": n, "text": text, "char_start": start, "char_end": end,
                                "line_start": line_start, "line_end": line_start + text.count("\n")})


def select_points(ctx: AskContext) -> list[Evidence]:
    """The sentences the answer is made of, numbered from 1: the section's sub-headings for a question they
    answer, the sentences stating the bound figures of a quantity question, then the best sentences while the
    kind's count and characters allow. Lists and summaries keep the reports' order; the rest, best first."""
    plan = ctx.plan
    kind = plan.kind if plan.kind in POINTS_BY_KIND else "fact"
    at_most = POINTS_BY_KIND[kind]
    budget = LIST_POINT_CHARS if kind in ("list", "summary", "why_how", "compare") else POINT_CHARS
    headings = [e.model_copy(update={"id": i}) for i, e in
                enumerate((e for e in ctx.evidence if e.kind == "heading"), start=1)]
    cands = _sentences(ctx)
    if headings and (not cands or plan.list_size == len(headings)
                     or _within(_best_of(ctx, cands).evidence, headings[0])):
        # the sub-headings are the items: as many as asked, or the best sentence is the divided section's own
        # (「重点做到四个强化：」), not a sentence inside one of its parts
        return headings
    if not headings and plan.facts.asks_items and cands:
        items = _items(ctx, _best_of(ctx, cands))
        if items:  # the section writes the items as enumerated sentences: they are the answer, in full
            return [_span(e, e.char_start, e.char_start + _leading_clauses(e.text), n)
                    for n, e in enumerate(items, start=1)]
    # else the sub-headings may or may not be the items: the best sentences follow them
    points: list[Evidence] = headings
    by_span = {(s.evidence.id, s.start): i for i, s in enumerate(cands)}
    picked: list[int] = []
    if plan.asks_quantity:
        for st in ctx.bound:
            i = by_span.get((st.evidence_id, st.start))
            if i is not None and i not in picked and not st.withheld:
                picked.append(i)
    def key(i: int) -> tuple[float, float]:
        return _rank(ctx, cands[i])

    ranked = sorted(range(len(cands)), key=lambda i: (key(i), -cands[i].rank, -i), reverse=True)
    top = key(ranked[0])[0] if ranked else 0.0
    used = sum(len(cands[i].text) for i in picked)
    if kind == "compare":
        # a comparison the tables did not take: each report's best sentence, reports in the evidence's order
        for report in dict.fromkeys(c.evidence.report_id for c in cands):
            i = next(i for i in ranked if cands[i].evidence.report_id == report)
            if len(picked) < at_most and (not picked or used + len(cands[i].text) <= budget):
                picked.append(i)
                used += len(cands[i].text)
    if kind in ("list", "why_how", "summary") and ranked and not picked:
        # an enumeration (a reason, a measure) runs on from its best sentence, whose neighbours share few
        # words with the question: back to its first item (a reason: to the sentence before it), then on to
        # the number asked for or the budget
        at_most = (plan.list_size or at_most) if kind == "list" else at_most
        first = ranked[0]
        while (first > 0 and cands[first - 1].evidence.id == cands[first].evidence.id
               and ENUMERATOR_RE.match(cands[first].text)
               and ENUMERATOR_RE.match(cands[first - 1].text)):
            first -= 1
        if (kind != "list" and first == ranked[0] and first > 0
                and cands[first - 1].evidence.id == cands[first].evidence.id):
            first -= 1
        i = first
        while (i < len(cands) and cands[i].evidence.id == cands[first].evidence.id and len(picked) < at_most
               and (not picked or used + len(cands[i].text) <= budget)):
            picked.append(i)
            used += len(cands[i].text)
            i += 1
        if (len(picked) > 1 and not ENUMERATOR_RE.match(cands[picked[0]].text)
                and ENUMERATOR_RE.match(cands[picked[1]].text) and i < len(cands)
                and cands[i].evidence.id == cands[first].evidence.id and used + len(cands[i].text) <= budget):
            picked.append(i)  # the sentence announcing the items is not one of them
            used += len(cands[i].text)
            at_most += 1
    for i in ranked:
        if len(picked) >= at_most:
            break
        if i in picked or (picked and key(i)[0] < RELATIVE_POINT * top):
            continue
        if picked and used + len(cands[i].text) > budget:
            continue
        picked.append(i)
        used += len(cands[i].text)
    picked = picked[:max(at_most, 1)]
    if kind in ("list", "summary", "compare"):
        picked.sort(key=lambda i: (cands[i].rank, cands[i].start))
    for i in picked:
        s = cands[i]
        start, end = s.start, s.end
        nxt = i + 1
        if (kind != "list" and end - start < SHORT_SENTENCE and nxt < len(cands)
                and cands[nxt].evidence.id == s.evidence.id
                and nxt not in picked):
            end = cands[nxt].end
        limit = POINT_SENTENCE_CHARS if kind in ("fact", "quantity", "compare") else ITEM_SENTENCE_CHARS
        if end - start > limit:
            # a 200-character sentence costs 150 prompt tokens: its clauses about the question are the point
            figures = [f for st in ctx.bound if not st.withheld and st.start == s.start for f in st.figures]
            a, b = _clause_span(s.evidence.text[start - s.evidence.char_start : end - s.evidence.char_start],
                                ctx.grams, figures, limit)
            start, end = start + a, start + b
        points.append(_span(s.evidence, start, end, len(points) + 1))
    return points


def _items(ctx: AskContext, best: _Sentence) -> list[Evidence]:
    """The enumerated sentences of the list the best sentence belongs to (「一是…二是…三是…」: it is the
    sentence before them, one of them, or in an item's text and no more about the subject than the items
    are — else it answers a detail inside one item, 「哪几项民生资金审计」 named in one sentence), with the
    sentence announcing them; only a list of the size asked for, when the question says."""
    for lst in ctx.item_lists.get(best.evidence.section_id, []):
        if not lst.holds(best.start) or ctx.plan.list_size not in (None, len(lst.items)):
            continue
        inside = all(best.start != e.char_start for e in [*lst.items, *([lst.lead] if lst.lead else [])])
        items = " ".join(e.text for e in lst.items)
        if inside and relevance(ctx.subject_grams, best.text) > relevance(ctx.subject_grams, items):
            continue
        return [*([lst.lead] if lst.lead is not None and lst.announces else []), *lst.items[:ITEMS_MAX]]
    return []


def _leading_clauses(text: str) -> int:
    """How much of an item's sentence its line keeps: its leading clauses within :data:`ITEM_CHARS` (the
    item's name comes first: 「一是组织收入工作面临更大压力，…」), at least the first clause."""
    ends = [m.start() for m in CLAUSE_END_RE.finditer(text)] + [len(text)]
    keep = ends[0]
    for end in ends[1:]:
        if end > ITEM_CHARS:
            break
        keep = end
    return min(max(keep, 1), len(text))


def _clause_span(text: str, grams: dict[str, float], keep: Sequence[str] = (),
                 limit: int = 0) -> tuple[int, int]:
    """The run of clauses of ``text`` around its best one (the clause holding one of ``keep``, the bound
    figures, first) within ``limit`` characters (:data:`CLAUSE_CHARS`), as offsets; all of it when short."""
    limit = limit or CLAUSE_CHARS
    if len(text) <= limit:
        return 0, len(text)
    bounds = [0, *(m.start() for m in CLAUSE_END_RE.finditer(text)), len(text)]
    spans = [(a, b) for a, b in itertools.pairwise(bounds) if text[a:b].strip()]
    if len(spans) < 2:
        return 0, len(text)
    scores = [relevance(grams, text[a:b]) + (1.0 if any(k in text[a:b] for k in keep) else 0.0)
              for a, b in spans]
    lo = hi = max(range(len(spans)), key=lambda i: (scores[i], -i))
    size = spans[lo][1] - spans[lo][0]
    while True:
        options = [(scores[j], j) for j in (lo - 1, hi + 1)
                   if 0 <= j < len(spans) and size + spans[j][1] - spans[j][0] <= limit]
        if not options:
            break
        _, j = max(options)
        size += spans[j][1] - spans[j][0]
        lo, hi = min(lo, j), max(hi, j)
    a, b = spans[lo][0], spans[hi][1]
    a += len(text[a:b]) - len(text[a:b].lstrip())
    return a, b


def _clause(text: str, grams: dict[str, float], keep: Sequence[str] = ()) -> str:
    """``text`` (whitespace folded) whole when short, else its best clauses (:func:`_clause_span`)."""
    text = " ".join(text.split())
    a, b = _clause_span(text, grams, keep)
    return text[a:b]


# A lead shorter than this names no subject (「做好」「安排」): the answer then opens with the clause.
MIN_LEAD_CHARS = 3


def _lead(plan: QuestionPlan, question: str) -> str:
    """What the brief says it answers: the plan's subject and measure (「新建少年宫项目总投资」) — only when
    the question says it in those words (one run, not cut out of a question word: 「哪家民宿」 leaves
    「家民宿」), else nothing: a lead patched together from a question's pieces reads worse than the clause
    alone."""
    target = plan.target or ""
    q = "".join(question.split())
    at = q.find(target) if len(target) >= MIN_LEAD_CHARS else -1
    if at < 0 or (at > 0 and q[at - 1] in _QUESTION_CHARS):
        return ""
    return target


def _item(text: str) -> str:
    """A clause as a line of the brief: whitespace folded, no trailing stop (the line adds its own)."""
    return " ".join(text.split()).rstrip(_TRAILING_STOPS)


def compose(ctx: AskContext, points: Sequence[Evidence]) -> tuple[str, list[Citation], list[Evidence]]:
    """The brief from ``points`` (:func:`select_points`), shaped by the plan's kind: its text, one citation
    per point it shows (renumbered from 1, each quoting its point), and the points it leaves out (a quantity
    brief shows only the sentences stating the bound figures; the caller quotes the rest)."""
    plan = ctx.plan
    lead = _lead(plan, ctx.standalone)
    headings = [p for p in points if p.kind == "heading"]
    rest = [p for p in points if p.kind != "heading"]
    shown: list[Evidence] = []
    lines: list[str] = []

    def cite(p: Evidence) -> int:
        shown.append(p)
        return len(shown)

    if headings:
        parent = headings[0].section_path[:-1]
        where = f"《{headings[0].report_title}》{parent[-1] if parent else ''}"
        lines.append(f"{lead}共{len(headings)}项：" if lead else f"{where}列出{len(headings)}项：")
        lines += [f"{i}. {_item(ENUMERATOR_RE.sub('', p.text))}[{cite(p)}]"
                  for i, p in enumerate(headings, start=1)]
        if rest:  # the best sentences, where they stand outside the section the sub-headings divide
            lines.append("相关内容：")
            lines += [f"{_item(p.text)}[{cite(p)}]。" for p in rest]
    elif plan.kind in ("list", "summary", "why_how") and len(rest) > 1:
        numbered = plan.kind in ("list", "summary")
        items = rest
        if (numbered and len(rest) > 2 and not ENUMERATOR_RE.match(rest[0].text.strip())
                and ENUMERATOR_RE.match(rest[1].text.strip())):
            # the sentence announcing the items leads them (「今年重点做好三项工作[1]：」)
            lines.append(f"{_item(rest[0].text)}[{cite(rest[0])}]：")
            items = rest[1:]
        else:
            lines.append(f"{lead}：" if lead else "报告中的相关内容：")
        for i, p in enumerate(items, start=1):
            text = _item(ENUMERATOR_RE.sub("", p.text.strip()))
            lines.append(f"{i}. {text}[{cite(p)}]" if numbered else f"{text}[{cite(p)}]。")
    elif plan.kind == "compare" and len({p.report_id for p in rest}) > 1:
        # each side's sentence under its report's name
        for p in rest:
            lines.append(f"《{p.report_title}》：{_item(_clause(p.text, ctx.grams))}[{cite(p)}]。")
    elif plan.asks_quantity and any(not s.withheld for s in ctx.bound):
        # one line per sentence stating bound figures: the clauses naming what the figure measures and the
        # figure (Statement.region), not the rest of its sentence, whose other figures answer other questions
        stated = [st for st in ctx.bound if not st.withheld]
        asks = max(1, len(_ASKS_RE.findall(ctx.standalone)))  # 「共查办多少起？其中刑事案件几起？」 asks two
        taken: dict[int, list] = {}  # point index -> its accepted statements
        for st in stated:
            point = next((j for j, p in enumerate(rest) if p.source_file == _source(ctx, st.evidence_id)
                          and p.char_start < st.end and st.start < p.char_end), None)
            if point is None or sum(map(len, taken.values())) >= QUANTITY_LINES or (
                    sum(map(len, taken.values())) >= asks and st.score < RELATIVE_BOUND * stated[0].score):
                continue
            taken.setdefault(point, []).append(st)
        for i, sts in taken.items():
            p = rest[i]
            plain = " ".join(p.text.split())
            regions = [" ".join(st.region.split()) for st in sts]
            at = [(plain.find(r), plain.find(r) + len(r)) for r in regions]
            if all(a >= 0 for a, _ in at):
                # the regions, from the first to the last (「同比增长6.3%，占全市的48.2%」: two figures asked)
                text = _item(_clause(plain[min(a for a, _ in at) : max(b for _, b in at)], ctx.grams,
                                     [f for st in sts for f in st.figures]))
            else:  # the point is the sentence's clauses about the question: they hold the figures
                text = _item(_clause(p.text, ctx.grams, [f for st in sts for f in st.figures]))
            n = cite(p)
            lines.append(f"{_led(lead, text, p) if not lines else text}[{n}]。")
    if not lines:
        for p in rest:
            text = _item(_clause(p.text, ctx.grams))
            n = cite(p)
            lines.append(f"{_led(lead, text, p) if not lines else text}[{n}]。")
    citations = [span_citation(n, p, p.char_start, p.char_end) for n, p in enumerate(shown, start=1)]
    left = [p for p in points if not any(p is q for q in shown)]
    return "\n".join(lines), citations, left


def _led(lead: str, text: str, point: Evidence) -> str:
    """「lead：text」 when the point's sentence (with its report title and headings) supports the lead too, as
    the checker reads a claim (verify/support.py); else the clause alone: a lead is no claim of its own."""
    if not lead:
        return text
    source = f"{point.report_title} {' '.join(point.section_path)}\n{point.text}"
    return f"{lead}：{text}" if support_score(f"{lead}{text}", source) >= DEFAULT_THRESHOLD else text


def clause_line(ctx: AskContext, point: Evidence) -> str:
    """A point as a line of the brief (without its marker): its clauses about the question, verbatim."""
    return _item(_clause(ENUMERATOR_RE.sub("", point.text.strip()), ctx.grams))


def _source(ctx: AskContext, evidence_id: int) -> str:
    return next((e.source_file for e in ctx.evidence if e.id == evidence_id), "")


def more_sentences(ctx: AskContext, points: Sequence[Evidence], at_most: int) -> list[Evidence]:
    """The next best sentences after ``points`` (not overlapping them), best first, at least
    :data:`RELATIVE_POINT` of the best: quoted under the brief, where a small brief left an item out."""
    cands = _sentences(ctx)
    if not cands or at_most <= 0:
        return []
    def key(s: _Sentence) -> tuple[float, float]:
        return _rank(ctx, s)

    ranked = sorted(cands, key=key, reverse=True)
    top = key(ranked[0])[0]
    out: list[Evidence] = []
    for s in ranked:
        if len(out) >= at_most or key(s)[0] < RELATIVE_POINT * top:
            break
        if any(p.source_file == s.evidence.source_file and s.start < p.char_end and p.char_start < s.end
               for p in [*points, *out]):
            continue
        out.append(_span(s.evidence, s.start, s.end, 0))
    return out
