"""Cross-report answers as tables, built and rendered in one place.

Rows come from the report scan (scan.py: one row per report that states the subject) or from the two
sides of a comparison (compare.py: one row per aspect). Every cell that says something about a report is
its clause verbatim, cited; the rest is the report's own metadata (its issuing body, title, period) or
「未提及」. The same table is rendered as Markdown (the answer text, the OpenAI route), CSV (the chat page's
download) and aligned columns (`rag ask`).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator

from rag.answering.compare import Side, aligned_rows
from rag.answering.context import AskContext
from rag.answering.evidence import whole_passage
from rag.answering.render import span_citation
from rag.answering.scan import Mention
from rag.contracts import Answer, Citation, Evidence, Table, TableCell

REPORT_COLUMNS = ["单位", "报告", "时期", "原文要点"]
NOT_STATED = "未提及"
NO_MORE = "—"


def _cell_text(cell: TableCell) -> str:
    """The cell with its citation markers: those its text does not already hold after each clause."""
    return cell.text + "".join(f"[{n}]" for n in cell.citations if f"[{n}]" not in cell.text)


def markdown(table: Table) -> str:
    """The table as GitHub Markdown, citation markers in the cells."""
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(" ".join(c.split()).replace("|", "\\|") for c in cells) + " |"

    lines = [row(table.columns), "|" + "---|" * len(table.columns)]
    lines.extend(row([_cell_text(c) for c in cells]) for cells in table.rows)
    return "\n".join(lines)


def csv_text(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    writer.writerows([_cell_text(c) for c in cells] for cells in table.rows)
    return out.getvalue()


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def aligned(table: Table, max_width: int = 48) -> str:
    """The table in aligned columns for a terminal (CJK characters count double); long cells are cut with
    「…」 — the full text is in the citations printed below."""
    def cut(text: str) -> str:
        text = " ".join(text.split())
        if _width(text) <= max_width:
            return text
        out, used = "", 0
        for ch in text:
            if used + _width(ch) > max_width - 2:
                break
            out, used = out + ch, used + _width(ch)
        return out + "…"

    cells = [list(table.columns)] + [[cut(_cell_text(c)) for c in row] for row in table.rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(table.columns))]
    lines = ["  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# -- who / aggregate ------------------------------------------------------------------------------------


Row = tuple[list[TableCell], list[Evidence], list[Citation]]


def report_rows(mentions: list[Mention]) -> Iterator[Row]:
    """One row per report: 单位 | 报告 | 时期 | 原文要点 [n]…, with the passages and citations it rests on (a
    row quotes its best clause, and the report's further clauses on the subject: Mention.more)."""
    n = 0
    for m in mentions:
        evidence, citations = [], []
        for point in (m, *m.more):
            n += 1
            e = whole_passage(point.chunk, n, point.score)
            evidence.append(e)
            citations.append(span_citation(n, e, point.start, point.end))
        r = m.report
        quotes = [" ".join(c.quote.split()) for c in citations]
        # one clause: verbatim, its marker at the end; several: each marked, joined by 「；」
        points = quotes[0] if len(quotes) == 1 else "；".join(
            q.rstrip("。；;，,") + f"[{c.n}]" for q, c in zip(quotes, citations, strict=True))
        yield ([TableCell(text=m.speaker or r.issuing_body or "—"), TableCell(text=f"《{r.title}》"),
                TableCell(text="、".join(r.periods) or "—"),
                TableCell(text=points, citations=[c.n for c in citations])], evidence, citations)


def reports_answer(ctx: AskContext, rows: list[Row], where: str = "") -> Answer:
    """The count line and the table; ``where``: the scope scanned (「《…汇编》、2023年下半年的工作计划」)."""
    table = Table(kind="reports", columns=REPORT_COLUMNS, rows=[cells for cells, _, _ in rows])
    bodies = {cells[0].text for cells, _, _ in rows}
    subject = ctx.plan.subject or "所问内容"
    count = (f"在{where}中共找到{len(rows)}份报告提到「{subject}」" if where
             else f"共有{len(rows)}份报告提到「{subject}」")
    if ctx.plan.kind == "who" and len(bodies) != len(rows):
        count += f"（{len(bodies)}个单位）"
    text = f"{count}：\n\n{markdown(table)}"
    return ctx.answer(answer=text, refused=False, table=table, citations=[c for _, _, cs in rows for c in cs],
                      evidence=[e for _, es, _ in rows for e in es])


# -- compare ----------------------------------------------------------------------------------------------


def compare_answer(ctx: AskContext, sides: list[Side]) -> Answer:
    """方面 | A | B: each cell its side's clause verbatim [n], or 「未提及」."""
    citations: list[Citation] = []
    rows = []
    subject = ctx.plan.target or ctx.plan.subject or "所问内容"
    for aspect, *points in aligned_rows(sides, subject):
        cells = [TableCell(text=aspect)]
        for side, p in zip(sides, points, strict=True):
            if p is None:
                # 「未提及」 only where the side's passages state nothing on the subject; a side that has
                # fewer points than the other has said what it says in the rows above
                cells.append(TableCell(text=NOT_STATED if not side.points else NO_MORE))
                continue
            n = len(citations) + 1
            citations.append(span_citation(n, p.evidence, p.start, p.end))
            cells.append(TableCell(text=" ".join(p.text.split()), citations=[n]))
        rows.append(cells)
    table = Table(kind="compare", columns=["方面", *(s.label for s in sides)], rows=rows)
    titles = ["、".join(f"《{t}》" for t in dict.fromkeys(e.report_title for e in s.evidence)) for s in sides]
    reports = "；".join(f"{s.label}：{t}" for s, t in zip(sides, titles, strict=True))
    text = f"按报告原文对比「{subject}」（{reports}）：\n\n{markdown(table)}"
    evidence = [e.model_copy(update={"id": i}) for i, e in
                enumerate((e for s in sides for e in s.evidence), start=1)]
    return ctx.answer(answer=text, refused=False, table=table, citations=citations, evidence=evidence)
