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
    return cell.text + "".join(f"[{n}]" for n in cell.citations)


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


def report_rows(mentions: list[Mention]) -> Iterator[tuple[list[TableCell], Evidence, Citation]]:
    """One row per report: 单位 | 报告 | 时期 | 原文要点 [n], with the passage and citation it rests on."""
    for n, m in enumerate(mentions, start=1):
        e = whole_passage(m.chunk, n, m.score)
        citation = span_citation(n, e, m.start, m.end)
        r = m.report
        yield ([TableCell(text=r.issuing_body or "—"), TableCell(text=f"《{r.title}》"),
                TableCell(text="、".join(r.periods) or "—"),
                TableCell(text=" ".join(citation.quote.split()), citations=[n])], e, citation)


def reports_answer(ctx: AskContext, rows: list[tuple[list[TableCell], Evidence, Citation]]) -> Answer:
    table = Table(kind="reports", columns=REPORT_COLUMNS, rows=[cells for cells, _, _ in rows])
    bodies = {cells[0].text for cells, _, _ in rows}
    subject = ctx.plan.subject or "所问内容"
    count = f"共有{len(rows)}份报告提到「{subject}」"
    if ctx.plan.kind == "who" and len(bodies) != len(rows):
        count += f"（{len(bodies)}个单位）"
    text = f"{count}：\n\n{markdown(table)}"
    return ctx.answer(answer=text, refused=False, table=table, citations=[c for _, _, c in rows],
                      evidence=[e for _, e, _ in rows])


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
