"""Answer evaluation on the gold set: key facts, citations, numbers, refusals, latency.

Metrics (per question, then overall and per type):

* key-fact recall — answerable items: share of the item's key facts found in the answer text (both sides
  in search form, spaces and punctuation ignored, so 「D建」 = 「党建」 and “” quotes do not matter). A key
  fact listing alternatives (``["60.39亿", "60.4亿"]``) is found when any one of them is.
* citation precision — every answer sentence that carries markers, judged against the *quotes shown to
  the user* (not the passages the checker saw): supported by the char-bigram measure at the checker's
  threshold with all its numbers present. An independent check of the final artefact: a quote narrowed
  too far, or a marker renumbered wrongly, fails here even if the checker passed the draft.
* citation recall — share of claim sentences (not refusals or notes) that carry at least one marker.
* citation needed — ALCE's citation precision: of the markers on cited sentences, the share that are
  needed — the quote alone supports the sentence, or the sentence is supported with all its markers and
  not without this one. A padded citation list (「[1][2][3]」 where [1] says it all) scores below 1.
* number accuracy — share of numbers stated in cited sentences that occur in their cited quotes.
* refusal — share of unanswerable items (expected ``refuse`` or ``withheld``) refused (want ≥ 0.9) and of
  answerable items refused (≤ 0.03); *explicit* refusals carry a refusal code (rag/contracts.py).
* key facts on the answer's own sentences — the same recall counted only on the text before the appended
  verbatim excerpts (「原文摘录：」「原文还提到：」「原文：」): a wrong brief above a right excerpt is a
  wrong answer.
  An extractive answer is all quotes, so its own sentences are the whole answer.
* withheld stated — of the items whose figure the report writes as XX, the share answered 「报告未公开…」
  (refusal code ``withheld``).
* reports found (complete aggregate items, ``complete: true``) — the reports the answer's table rows cite
  (every cited report when there is no table) against every report the gold lists: recall and precision per
  question, averaged.
* side figures (compare items with ``sides``) — of the figures a side states (its key facts holding a
  digit) that the answer shows, the share shown in a cell or line citing that side's report (want 1.0).
* misattached figures — amounts the answer asserts (its own sentences, not the verbatim quote lines) that
  the item's sources do not state: any amount in an answer to an unanswerable item that was not refused,
  and, for quantity items, amounts in neither a source quote nor a key fact. Want 0. A quote dump asserts
  nothing: an unanswerable item answered by quotes shows in the refusal rate instead.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel
from tqdm import tqdm

from eval.check_gold import GoldItem, KeyFact, alternatives
from rag.answering.verify import (
    DEFAULT_THRESHOLD,
    extract_numbers,
    number_supported,
    parse_markers,
    split_sentences,
    support_score,
)
from rag.contracts import Answer
from rag.text.normalize import normalize_for_search
from rag.text.question import quantities

_NON_CONTENT = re.compile(r"[^0-9a-z%\u3400-\u4dbf\u4e00-\u9fff.]+")
_MARKERS = re.compile(r"\[\d+\]")
_NOTE_RE = re.compile(r"^(?:注意：|报告原文中与问题最相关的内容|现有报告中没有找到|原文(?:还提到|摘录)?：|"
                      r"共有\d+份报告提到|按报告原文对比)")
_TABLE_RULE_RE = re.compile(r"^\|(?:\s*-+\s*\|)+$")
_LABEL_RE = re.compile(r"^《[^》]*》[^：]{0,40}：「")
# Where the appended verbatim excerpts start (rag/answering/draft.py): the answer's own sentences end there.
_EXCERPTS_RE = re.compile(r"\n(?:原文摘录|原文还提到|原文)：\n")
UNANSWERABLE = ("refuse", "withheld")


def own_sentences(answer: str) -> str:
    """The answer without its appended excerpt block."""
    return _EXCERPTS_RE.split(answer, maxsplit=1)[0]


# The header of the extractive answer before issue 28 (then whole passages).
_DUMP_HEADER = "报告原文中与问题最相关的内容"


def quote_dump(answer: str) -> bool:
    """Whether the answer's own part (its brief) is quotes rather than an answer: a labelled verbatim quote
    line (「《title》heading：「…」[n]」) or the old header of passages. Quotes under 「原文还提到：」 after a
    brief do not count."""
    own = own_sentences(answer)
    return _DUMP_HEADER in own or any(_LABEL_RE.match(line) for line in own.splitlines())


def misattached(item: GoldItem, answer: Answer) -> list[str]:
    """Amounts the answer's own sentences state that the item's sources do not (see the module docstring)."""
    if answer.refused:
        return []
    # what the answer asserts: its own sentences, not the notes nor the verbatim quote lines (《…》：「…」)
    own = _MARKERS.sub("", own_sentences(answer.answer))
    own = "\n".join(line for line in own.splitlines()
                    if not (line.startswith("注意：") or _LABEL_RE.match(line) or _NOTE_RE.match(line)))
    amounts = quantities(own)
    if item.expected in UNANSWERABLE:
        return amounts
    if item.type != "quantity":
        return []
    facts = [a for f in item.key_facts for a in alternatives(f)]
    stated = "\n".join([*(s.quote for s in item.sources), *facts])
    return [n for n in amounts if not number_supported(n, stated)]


def squash(text: str) -> str:
    return _NON_CONTENT.sub("", normalize_for_search(text).lower())


def found_alternative(fact: KeyFact, answer: str) -> str | None:
    """The first of the fact's alternatives (the fact itself, for a plain string) found in the answer."""
    text = squash(_MARKERS.sub("", answer))
    return next((alt for alt in alternatives(fact) if squash(alt) in text), None)


def fact_found(fact: KeyFact, answer: str) -> bool:
    return found_alternative(fact, answer) is not None


class QuestionRecord(BaseModel):
    id: str
    type: str
    expected: str
    question: str
    answer: str
    refused: bool
    key_facts: list[KeyFact]
    facts_found: list[str]  # for each key fact found, the alternative that was found
    key_fact_recall: float | None
    key_fact_recall_own: float | None = None  # on the answer's own sentences, excerpts left out
    quote_dump: bool = False  # the brief is quotes, not an answer (quote_dump)
    refusal_code: str | None = None
    misattached: list[str] = []
    tags: list[str] = []
    report_recall: float | None = None  # complete aggregate items: reports found / reports in gold
    report_precision: float | None = None  # reports found that the gold lists / reports found
    side_figures: int = 0  # compare items with sides: side figures the answer shows
    side_figures_right: int = 0  # … shown where the side's own report is cited
    cited_sentences: int
    supported_cited: int
    claim_sentences: int
    numbers: int
    numbers_ok: int
    markers: int = 0
    markers_needed: int = 0
    unsupported: int
    citations: list[dict]
    fallback: str | None
    retrieval_ms: float
    first_token_ms: float | None
    total_ms: float
    prompt_tokens: int
    prompt_new_tokens: int = 0
    completion_tokens: int


def _table_cells(line: str) -> list[str] | None:
    """The cells of a Markdown table row (None for any other line; [] for its rule line)."""
    line = line.strip()
    if not (line.startswith("|") and line.endswith("|")):
        return None
    if _TABLE_RULE_RE.match(line):
        return []
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line[1:-1])]


_MARKER_RUN_RE = re.compile(r"(?:\[\d+\])+")


def _marked_pieces(cell: str) -> list[str]:
    """The clauses of a cell, each up to and with its markers (「A[1]；B[2]」 → 「A[1]」「；B[2]」); text
    after the last marker carries none and is left out. (Slices between marker runs: a lazy 「.*?[n]」
    pattern would rescan to the end from every position.)"""
    out, start = [], 0
    for m in _MARKER_RUN_RE.finditer(cell):
        out.append(cell[start : m.end()])
        start = m.end()
    return out


def _claim_lines(answer: Answer) -> list[str]:
    """Sentences of the answer that state something (notes and headers excluded). A sentence without
    markers takes those of the next marked sentence on its line: 「A。B。[1]」 cites [1] for both. In a
    table, each cited cell (each marked clause of it) is a claim; the header, the report's metadata cells
    and 「未提及」 are not."""
    out: list[str] = []
    for line in answer.answer.splitlines():
        if not line.strip() or _NOTE_RE.match(line.strip()) or (
                line.rstrip().endswith("：") and not _MARKERS.search(line)):
            continue  # a note, or a header that introduces the lines after it (「…下列各项：」「…共4项：」)
        cells = _table_cells(line)
        if cells is not None:
            # a cell quoting several clauses marks each (「A[1]；B[2]」): each clause is a claim
            out.extend(piece.lstrip("；;，, ") for c in cells for piece in _marked_pieces(c))
            continue
        pending: list[str] = []
        for sentence in split_sentences(line):
            clean, markers = parse_markers(sentence)
            if not markers:
                pending.append(clean)
                continue
            tail = "".join(f"[{m}]" for m in markers)
            out.extend(p + tail for p in pending)
            out.append(sentence)
            pending = []
        out.extend(pending)
    return out


def _supports(sentence: str, numbers: Sequence[str], evidence: str) -> bool:
    """The checker's rule: char-bigram support at its threshold and every number present."""
    return bool(evidence) and support_score(sentence, evidence) >= DEFAULT_THRESHOLD and all(
        number_supported(n, evidence) for n in numbers)


def report_key(file: str, title: str) -> str:
    return f"{file}|{title}"


def reports_found(answer: Answer) -> set[str]:
    """The reports an answer lists: its table rows' citations, or every citation without a table."""
    if answer.refused:
        return set()
    cited = {n for row in answer.table.rows for cell in row for n in cell.citations} if answer.table else None
    return {report_key(c.source_file, c.report_title) for c in answer.citations
            if cited is None or c.n in cited}


def _cited_units(answer: Answer) -> list[tuple[str, set[int]]]:
    """Each table cell, or each line of the answer, with the markers it carries."""
    units = []
    for line in answer.answer.splitlines():
        for unit in _table_cells(line) or [line]:
            units.append((unit, {int(m) for m in re.findall(r"\[(\d+)\]", unit)}))
    return units


def side_figures(item: GoldItem, answer: Answer) -> tuple[int, int]:
    """(side figures shown, of them shown in a unit citing that side's report)."""
    if not item.sides or answer.refused:
        return 0, 0
    report_of = {c.n: report_key(c.source_file, c.report_title) for c in answer.citations}
    units = _cited_units(answer)
    shown = right = 0
    for side in item.sides:
        own = report_key(side.file, side.report_title)
        for fact in side.key_facts:
            alts = [a for a in alternatives(fact) if re.search(r"\d", a)]
            holding = [markers for text, markers in units if any(squash(a) in squash(text) for a in alts)]
            if not alts or not holding:
                continue
            shown += 1
            right += any(own in {report_of.get(m) for m in markers} for markers in holding)
    return shown, right


def score(item: GoldItem, answer: Answer) -> QuestionRecord:
    quotes = {c.n: f"{c.report_title} {' '.join(c.section_path)}\n{c.quote}" for c in answer.citations}
    cited = supported = claims = numbers = numbers_ok = markers_total = markers_needed = 0
    if not answer.refused:
        for sentence in _claim_lines(answer):
            clean, markers = parse_markers(sentence)
            clean = _LABEL_RE.sub("", clean).rstrip("」")
            if not squash(clean):
                continue
            claims += 1
            if not markers:
                continue
            cited += 1
            evidence = "\n".join(quotes.get(m, "") for m in markers)
            nums = extract_numbers(clean)
            ok_nums = [n for n in nums if number_supported(n, evidence)]
            numbers += len(nums)
            numbers_ok += len(ok_nums)
            whole = len(ok_nums) == len(nums) and support_score(clean, evidence) >= DEFAULT_THRESHOLD
            supported += whole
            for m in markers:
                rest = "\n".join(quotes.get(o, "") for o in markers if o != m)
                markers_total += 1
                markers_needed += _supports(clean, nums, quotes.get(m, "")) or (whole and not _supports(
                    clean, nums, rest))
    answerable = item.expected not in UNANSWERABLE
    found = [alt for alt in (found_alternative(f, answer.answer) for f in item.key_facts) if alt is not None]
    own = own_sentences(answer.answer)
    found_own = [f for f in item.key_facts if found_alternative(f, own) is not None]
    recall = precision = None
    if item.complete:
        gold = {report_key(s.file, s.report_title) for s in item.sources}
        listed = reports_found(answer)
        recall = len(gold & listed) / len(gold)
        precision = len(gold & listed) / len(listed) if listed else None
    shown, right = side_figures(item, answer)
    return QuestionRecord(
        id=item.id, type=item.type, expected=item.expected, question=item.question, answer=answer.answer,
        refused=answer.refused, key_facts=item.key_facts, facts_found=found,
        key_fact_recall=(len(found) / len(item.key_facts)) if answerable and item.key_facts else None,
        key_fact_recall_own=(len(found_own) / len(item.key_facts)) if answerable and item.key_facts else None,
        quote_dump=not answer.refused and answer.table is None and quote_dump(answer.answer),
        refusal_code=answer.refusal_code, misattached=misattached(item, answer), tags=list(item.tags),
        report_recall=recall, report_precision=precision, side_figures=shown, side_figures_right=right,
        cited_sentences=cited, supported_cited=supported, claim_sentences=claims, numbers=numbers,
        numbers_ok=numbers_ok, markers=markers_total, markers_needed=markers_needed,
        unsupported=len(answer.unsupported),
        citations=[c.model_dump(include={"n", "report_id", "section_id", "line_start", "line_end", "quote"})
                   for c in answer.citations],
        # a table says it was built without the LLM (by design); only LLM failures count as fallbacks
        fallback=answer.fallback if answer.table is None else None, retrieval_ms=answer.timings.retrieval_ms,
        first_token_ms=answer.timings.first_token_ms, total_ms=answer.timings.total_ms,
        prompt_tokens=answer.timings.prompt_tokens, prompt_new_tokens=answer.timings.prompt_new_tokens,
        completion_tokens=answer.timings.completion_tokens,
    )


def _pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    vs = sorted(values)
    return vs[min(len(vs) - 1, round(q * (len(vs) - 1)))]


def summarize(records: Sequence[QuestionRecord]) -> dict:
    def mean(xs):
        xs = [x for x in xs if x is not None]
        return round(statistics.fmean(xs), 4) if xs else None

    answerable = [r for r in records if r.expected not in UNANSWERABLE]
    unanswerable = [r for r in records if r.expected in UNANSWERABLE]
    withheld = [r for r in records if r.expected == "withheld"]
    cited = sum(r.cited_sentences for r in records)
    claims = sum(r.claim_sentences for r in records)
    nums = sum(r.numbers for r in records)
    marks = sum(r.markers for r in records)
    first = [r.first_token_ms for r in records if r.first_token_ms is not None]
    total = [r.total_ms for r in records]
    retrieval = [r.retrieval_ms for r in records]
    tokens = sum(r.completion_tokens for r in records)
    prompts = [r.prompt_tokens for r in records if r.prompt_tokens]
    new = [r.prompt_new_tokens for r in records if r.prompt_new_tokens]
    gen_s = sum((r.total_ms - (r.first_token_ms or r.total_ms)) for r in records) / 1000
    return {
        "n": len(records),
        "key_fact_recall": mean(r.key_fact_recall for r in answerable),
        "key_fact_recall_own": mean(r.key_fact_recall_own for r in answerable),
        "citation_precision": round(sum(r.supported_cited for r in records) / cited, 4) if cited else None,
        "citation_recall": round(cited / claims, 4) if claims else None,
        "citation_needed": round(sum(r.markers_needed for r in records) / marks, 4) if marks else None,
        "number_accuracy": round(sum(r.numbers_ok for r in records) / nums, 4) if nums else None,
        "refused_unanswerable": mean(float(r.refused) for r in unanswerable),
        "refused_answerable": mean(float(r.refused) for r in answerable),
        "refused_unanswerable_explicit": mean(float(r.refused and r.refusal_code is not None)
                                              for r in unanswerable),
        "withheld_stated": mean(float(r.refusal_code == "withheld") for r in withheld),
        "report_recall": mean(r.report_recall for r in records),
        # a refusal lists no report: it costs recall, and precision is not defined for it
        "report_precision": mean(r.report_precision for r in records),
        "side_figures_right": (round(sum(r.side_figures_right for r in records) / shown, 4)
                               if (shown := sum(r.side_figures for r in records)) else None),
        "misattached_figures": sum(len(r.misattached) for r in records),
        "answers_with_misattached": sum(bool(r.misattached) for r in records),
        "fallbacks": sum(r.fallback is not None for r in records),
        "quote_dumps": sum(r.quote_dump for r in records),
        "prompt_tokens_p50": _pct(prompts, 0.5),
        "prompt_tokens_p95": _pct(prompts, 0.95),
        "prompt_new_tokens_p50": _pct(new, 0.5),
        "prompt_new_tokens_p95": _pct(new, 0.95),
        "retrieval_ms_p50": _pct(retrieval, 0.5),
        "first_token_ms_p50": _pct(first, 0.5),
        "first_token_ms_p95": _pct(first, 0.95),
        "total_ms_p50": _pct(total, 0.5),
        "total_ms_p95": _pct(total, 0.95),
        "tokens_per_s": round(tokens / gen_s, 1) if gen_s > 0 else None,
    }


def by_type(records: Sequence[QuestionRecord]) -> dict[str, dict]:
    types = sorted({r.type for r in records})
    return {t: summarize([r for r in records if r.type == t]) for t in types}


def by_tag(records: Sequence[QuestionRecord]) -> dict[str, dict]:
    """The same summary per trap tag (eval/check_gold.py Tag) of the items that carry one."""
    tags = sorted({t for r in records for t in r.tags})
    return {t: summarize([r for r in records if t in r.tags]) for t in tags}


def run(service, items: Sequence[GoldItem], mode: str, desc: str = "answers") -> list[QuestionRecord]:
    records = []
    for item in tqdm(items, desc=desc, unit="q"):
        answer = service.ask(item.question, mode=mode)
        records.append(score(item, answer))
    return records


def format_summary(name: str, s: dict) -> str:
    def f(v, pct=False):
        if v is None:
            return "–"
        return f"{v:.3f}" if not pct else f"{v:.0f}"

    return (f"{name}: key-fact recall {f(s['key_fact_recall'])} (own sentences "
            f"{f(s.get('key_fact_recall_own'))}) · citation precision "
            f"{f(s['citation_precision'])} · citation recall {f(s['citation_recall'])} · citation needed "
            f"{f(s['citation_needed'])} · numbers "
            f"{f(s['number_accuracy'])} · refused unanswerable {f(s['refused_unanswerable'])} · refused "
            f"answerable {f(s['refused_answerable'])} · withheld stated {f(s.get('withheld_stated'))} · "
            f"misattached figures {s.get('misattached_figures', '–')} · fallbacks {s['fallbacks']} · "
            f"quote dumps {s.get('quote_dumps', '–')} · "
            f"reports found recall/precision {f(s.get('report_recall'))}/{f(s.get('report_precision'))} · "
            f"side figures right {f(s.get('side_figures_right'))} · "
            f"prompt tokens p50 {s.get('prompt_tokens_p50') or '–'} "
            f"(new {s.get('prompt_new_tokens_p50') or '–'}) · "
            f"first token p50/p95 "
            f"{f(s['first_token_ms_p50'], True)}/{f(s['first_token_ms_p95'], True)} ms · total p50/p95 "
            f"{f(s['total_ms_p50'], True)}/{f(s['total_ms_p95'], True)} ms")


def write(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)
