"""A report's lines → section tree.

A numbered line opens a section when it reads as a heading: either the whole line is short with no
sentence break (「一、上半年工作回顾」), or a short lead sentence is followed by its text on the same line
(「（一）推动执法力量下沉。进一步…」, a run-in heading). Numbered lines with a long first sentence, or
ending in 「；」, are list items and stay paragraphs. Siblings (same numbering style under the same
parent) are decided together by majority, so a list is not half headings, half items. Levels follow the
order numbering styles appear in, so a report that starts at 「（一）」 or 「1.」 still starts at level 1.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from rag.corpus.models import Paragraph, ParagraphKind, Section
from rag.corpus.numbering import Marker, parse_marker
from rag.corpus.segment import Line
from rag.text.normalize import normalize_for_search

HEADING_MAX_CHARS = 50  # a whole-line heading longer than this is a sentence, i.e. a list item
LEAD_MAX_CHARS = 40  # a run-in heading's lead sentence longer than this is a list item's text
_LEAD_END = set("。！？；：:;!?")
_OPEN = "（(《“‘「【["
_CLOSE = "）)》”’」】]"
_DATE_RE = re.compile(r"^(?:\d{4}|[〇零一二三四五六七八九]{4})\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日$")
_SIGNATURE_RE = re.compile(r"^[^\s。，；：,;:！？]{2,30}$")


def _lead_end(rest: str) -> int | None:
    """Index of the first sentence break outside brackets and quotes, or None."""
    depth = 0
    for i, ch in enumerate(rest):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        elif depth == 0 and ch in _LEAD_END:
            return i
    return None


@dataclass
class _Numbered:
    marker: Marker
    rest: str
    shape: str  # "heading", "maybe_heading" (short, ends with 。), "run_in", "item"
    lead: str


def _classify(content: str, marker: Marker) -> _Numbered:
    rest = content[marker.rest_start :]
    end = _lead_end(rest)
    if end is None:
        shape = "heading" if 0 < len(rest) <= HEADING_MAX_CHARS else "item"
        return _Numbered(marker, rest, shape, rest)
    lead = rest[:end]
    if end == len(rest) - 1:
        if rest[-1] in "；;" or len(rest) > HEADING_MAX_CHARS or not lead:
            return _Numbered(marker, rest, "item", lead)
        return _Numbered(marker, rest, "maybe_heading", lead)
    if 2 <= len(lead) <= LEAD_MAX_CHARS:
        return _Numbered(marker, rest, "run_in", lead)
    return _Numbered(marker, rest, "item", lead)


def _short_lead(item: _Numbered) -> str:
    """Heading for an item that opens a section because its siblings do: its first clause, shortened."""
    clause = re.split(r"[，,。；;：:！？!?]", item.rest, maxsplit=1)[0]
    return clause if len(clause) <= LEAD_MAX_CHARS else clause[: LEAD_MAX_CHARS - 1] + "…"


@dataclass
class _Node:
    heading: str | None
    marker: Marker | None
    line: Line | None
    ordinal: str  # "0" for the root, "1.2" for the 2nd child of the 1st section
    path: list[str]
    paragraphs: list[Paragraph] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)


def _decide_sections(body: list[Line], numbered: dict[int, _Numbered]) -> set[int]:
    """Indices of numbered lines that open a section."""
    looks_like_heading: dict[int, bool] = {}
    for i, item in numbered.items():
        if item.shape == "maybe_heading":
            # Short and ending in 「。」: a heading if text or deeper numbering follows, else an item.
            nxt = numbered.get(i + 1)
            looks_like_heading[i] = i + 1 < len(body) and (nxt is None or nxt.marker.rank > item.marker.rank)
        else:
            looks_like_heading[i] = item.shape in ("heading", "run_in")

    sections: set[int] = set()
    for rank in sorted({item.marker.rank for item in numbered.values()}):
        groups: dict[int, list[int]] = defaultdict(list)
        parent = -1
        for i in range(len(body)):
            if i in sections and numbered[i].marker.rank < rank:
                parent = i
            elif i in numbered and numbered[i].marker.rank == rank:
                groups[parent].append(i)
        for members in groups.values():
            votes = sum(looks_like_heading[i] for i in members)
            has_pure = any(numbered[i].shape == "heading" for i in members)
            if votes * 2 > len(members) or (votes * 2 == len(members) and has_pure):
                sections.update(members)
    return sections


def _closing_lines(body: list[Line], numbered: dict[int, _Numbered]) -> set[int]:
    """Signature and date lines at the end of a report (「XX镇乡村振兴工作站」, 「2023年11月30日」)."""
    last = len(body) - 1
    if last < 1 or not _DATE_RE.match(body[last].content):
        return set()
    closing = {last}
    if last - 1 >= 1 and last - 1 not in numbered and _SIGNATURE_RE.match(body[last - 1].content):
        closing.add(last - 1)
    return closing


def build_section_tree(report_id: str, body: list[Line]) -> Section:
    numbered: dict[int, _Numbered] = {}
    for i, line in enumerate(body):
        if (marker := parse_marker(line.content)) and line.content[marker.rest_start :]:
            numbered[i] = _classify(line.content, marker)
    opens = _decide_sections(body, numbered)
    closing = _closing_lines(body, numbered)

    root = _Node(heading=None, marker=None, line=None, ordinal="0", path=[])
    stack: list[tuple[int, _Node]] = [(0, root)]
    for i, line in enumerate(body):
        item = numbered.get(i)
        kind: ParagraphKind = "text"
        if i in opens and item is not None:
            while stack[-1][0] >= item.marker.rank:
                stack.pop()
            parent = stack[-1][1]
            if item.shape in ("heading", "maybe_heading"):
                heading, kind = line.content.rstrip("。：:"), "heading"
            else:
                lead = item.lead if item.shape == "run_in" else _short_lead(item)
                heading, kind = item.marker.text + lead, "run_in"
            ordinal = str(len(parent.children) + 1)
            node = _Node(
                heading=heading,
                marker=item.marker,
                line=line,
                ordinal=ordinal if parent is root else f"{parent.ordinal}.{ordinal}",
                path=[*parent.path, heading],
            )
            parent.children.append(node)
            stack.append((item.marker.rank, node))
        elif item is not None:
            kind = "item"
        elif i in closing:
            kind = "closing"
        stack[-1][1].paragraphs.append(
            Paragraph(
                id=f"{report_id}-p{i + 1}",
                text=line.content,
                search_text=normalize_for_search(line.content),
                line=line.number,
                char_start=line.start,
                char_end=line.end,
                kind=kind,
                marker=item.marker.text if item is not None else None,
            )
        )
    return _freeze(report_id, root, level=0, first=body[0])


def _freeze(report_id: str, node: _Node, level: int, first: Line) -> Section:
    children = [_freeze(report_id, child, level + 1, first) for child in node.children]
    starts = [(p.line, p.char_start) for p in node.paragraphs] + [
        (c.line_start, c.char_start) for c in children
    ]
    ends = [(p.line, p.char_end) for p in node.paragraphs] + [(c.line_end, c.char_end) for c in children]
    if node.line is not None:
        starts.append((node.line.number, node.line.start))
    if not starts:  # a root with neither preamble nor sections cannot occur; keep spans valid anyway
        starts = ends = [(first.number, first.start)]
    return Section(
        id=f"{report_id}-s{node.ordinal}",
        report_id=report_id,
        heading=node.heading,
        marker=node.marker.text if node.marker else None,
        numbering_level=node.marker.rank if node.marker else None,
        level=level,
        path=node.path,
        line_start=min(starts)[0],
        line_end=max(ends)[0],
        char_start=min(starts)[1],
        char_end=max(ends)[1],
        paragraphs=node.paragraphs,
        children=children,
    )
