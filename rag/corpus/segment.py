"""Compilation → front matter (title, count, table of contents) and one span of lines per report.

A report starts at a title line: short, no sentence punctuation, no heading numbering, ending with a
kind word (总结/计划/安排…). Titles repeat across reports and in-report part headings can look like
titles, so a candidate must also be followed by body text and, where the file sets titles apart by
layout (blank lines before them, or less indentation than the body), must be set apart the same way.
A table of contents that lists titles is then used to check, and if needed correct, the result.
"""

from __future__ import annotations

import itertools
import re
import statistics
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from rag.corpus import metadata
from rag.corpus.models import TocEntry
from rag.corpus.noise import (
    COUNT_ONLY_RE,
    WHITESPACE,
    declared_count,
    is_advert,
    is_toc_heading,
    looks_like_compilation_title,
)
from rag.corpus.numbering import parse_marker
from rag.corpus.reading import SourceText
from rag.errors import CorpusError

TITLE_MAX_CHARS = 80
_SENTENCE_PUNCT_RE = re.compile(r"[。！？；，：,;!?]|:(?!\d)")
# A table-of-contents line: 「1.」 alone, a title with a tab/leader and page number, or 「1.title」.
_TOC_NUMBER_ONLY_RE = re.compile(r"^\d{1,3}\s*[.、．]?$")
# Each run (tabs, spaces, leader dots) is tried from its start only: linear on a long run of spaces.
_TOC_PAGE_RE = re.compile(r"(?:(?<!\t)\t+|(?<![ \u3000])[ \u3000]{2,}|(?<![.…·])[.…·]{2,}\s*)(\d{1,4})$")
_TOC_NUMBERED_RE = re.compile(r"^(\d{1,3})\s*[.、．]\s*(.+)$")
_GLUED_PAGE_RE = re.compile(r"(?<=[\u4e00-\u9fff）)])(\d{1,4})$")
_MARKDOWN_HEADING_RE = re.compile(r"^#{1,6}\s*|^\*\*|\*\*$")


def title_text(line: str) -> str:
    """A title line's words, without Markdown mark-up: 「# 刑事判决书」「**…判决书**」 → the words."""
    return _MARKDOWN_HEADING_RE.sub("", line).strip()


@dataclass
class Line:
    number: int  # 1-based
    content: str  # the line without surrounding whitespace
    start: int  # offset of content in the normalised text
    end: int
    indent: int  # width of the leading whitespace (full-width space counts 2, tab 4)
    blank: bool
    noise: bool  # a site advert


@dataclass
class ReportSpan:
    title: Line
    body: list[Line]  # content lines after the title, noise removed


@dataclass
class Segmentation:
    compilation_title: Line | None = None
    declared_count: int | None = None
    toc: list[TocEntry] = field(default_factory=list)
    reports: list[ReportSpan] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def scan_lines(source: SourceText) -> list[Line]:
    lines = []
    for number, (raw, offset) in enumerate(zip(source.lines, source.line_starts, strict=True), start=1):
        lstripped = raw.lstrip(WHITESPACE)
        content = lstripped.rstrip(WHITESPACE)
        lead = raw[: len(raw) - len(lstripped)]
        indent = sum(2 if ch == "\u3000" else 4 if ch == "\t" else 1 for ch in lead)
        start = offset + len(lead)
        lines.append(
            Line(
                number=number,
                content=content,
                start=start,
                end=start + len(content),
                indent=indent,
                blank=not content,
                noise=bool(content) and is_advert(content),
            )
        )
    return lines


def title_strength(content: str) -> int:
    """2: looks like a report title with a year; 1: title-like without a year; 0: not a title.
    Markdown mark-up does not count: 「### 3. 被盗物品清单及估价报告」 is a numbered heading."""
    content = title_text(content)
    if not 4 <= len(content) <= TITLE_MAX_CHARS or _SENTENCE_PUNCT_RE.search(content):
        return 0
    if "\t" in content or _TOC_PAGE_RE.search(content) or looks_like_compilation_title(content):
        return 0
    if parse_marker(content) or is_toc_heading(content) or not metadata.TITLE_END_RE.search(content):
        return 0
    return 2 if metadata.HAS_YEAR_RE.search(content) else 1


def _looks_like_toc_line(content: str) -> bool:
    if _TOC_NUMBER_ONLY_RE.match(content) or _TOC_PAGE_RE.search(content):
        return True
    # 「1.XX街道2023年下半年工作计划5」, but not a heading such as 「1.全年完成投资12」
    glued = _GLUED_PAGE_RE.search(content)
    return bool(
        glued and _TOC_NUMBERED_RE.match(content) and metadata.TITLE_END_RE.search(content[: glued.start()])
    )


def _norm_title(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def parse_toc_entry(line: Line) -> TocEntry | None:
    """「1.XX街道2023年下半年工作计划5」, 「title\\t11」 or 「1.」 → TocEntry; None if not an entry."""
    text = line.content
    page = None
    if m := _TOC_PAGE_RE.search(text):
        page, text = int(m.group(1)), text[: m.start()].rstrip(WHITESPACE)
    number = None
    if m := _TOC_NUMBER_ONLY_RE.match(text):
        return TocEntry(line=line.number, number=int(re.sub(r"\D", "", text)), title=None, page=page)
    if m := _TOC_NUMBERED_RE.match(text):
        number, text = int(m.group(1)), m.group(2).strip(WHITESPACE)
    if (
        page is None
        and (m := _GLUED_PAGE_RE.search(text))
        and metadata.TITLE_END_RE.search(text[: m.start()])
    ):
        # 「…工作计划3」: a page number glued to a title that ends with a kind word.
        page, text = int(m.group(1)), text[: m.start()]
    if _SENTENCE_PUNCT_RE.search(text) or len(text) > TITLE_MAX_CHARS:
        return None
    if number is None and page is None and not metadata.TITLE_END_RE.search(text):
        return None
    return TocEntry(line=line.number, number=number, title=text or None, page=page)


SegmentMode = Literal["auto", "single", "compilation"]


class _Segmenter:
    def __init__(self, source: SourceText, mode: SegmentMode = "auto",
                 fallback_title: str | None = None) -> None:
        self.source = source
        self.mode = mode
        self.fallback_title = fallback_title  # a file with no title line becomes one report with this title
        self.lines = scan_lines(source)
        self.content = [i for i, line in enumerate(self.lines) if not line.blank and not line.noise]
        self.next_content = {a: b for a, b in zip(self.content, self.content[1:], strict=False)}
        self.strength = {i: s for i in self.content if (s := title_strength(self.lines[i].content))}
        self.result = Segmentation()

    def where(self, line: Line) -> str:
        return self.source.where(line.number)

    def followed_by_body(self, i: int) -> bool:
        j = self.next_content.get(i)
        if j is None or j in self.strength:
            return False
        content = self.lines[j].content
        return not (is_toc_heading(content) or _looks_like_toc_line(content) or COUNT_ONLY_RE.match(content))

    def gap_before(self, i: int) -> int:
        gap = 0
        while i - gap - 1 >= 0 and (self.lines[i - gap - 1].blank or self.lines[i - gap - 1].noise):
            gap += 1
        return gap

    def run(self) -> Segmentation:
        if not self.content:
            raise CorpusError(
                f"{self.source.name}:1: the file has no text (only blank lines, markers or adverts)"
            )
        start = next((i for i in self.content if i in self.strength and self.followed_by_body(i)), None)
        if start is None:
            try:
                start = self._fallback_start()
            except CorpusError:
                if self.fallback_title is None:
                    raise
                return self._untitled()
        single = self.mode == "single"
        if self.mode != "compilation" and self._body_before(start):
            # Sentences before the first title-like line: the file is one document and that line one
            # of its headings (「3. 被盗物品清单及估价报告」 in a judgment), not a compilation's next report.
            first = self.content[0]
            if self._titles_file(first):
                start, single = first, True
            elif self.fallback_title is not None:
                return self._untitled()
        self._front_matter(start)
        if single:
            titles = [start]
        else:
            titles = self._structural_titles(start)
            titles = self._check_against_toc(titles, start)
        self._build_spans(titles)
        self._check_counts()
        if self.mode == "compilation" and len(self.result.reports) < 2:
            raise CorpusError(
                f"{self.source.name}: found {len(self.result.reports)} report, but --compilation expects "
                "several (each starting with a title line such as 「XX局2023年工作总结」); "
                "ingest it with --single, or without either flag"
            )
        return self.result

    def _untitled(self) -> Segmentation:
        """No title line anywhere: the whole file is one report titled by ``fallback_title``. The title
        points at the first content line with an empty span, so offsets still refer to the source."""
        first = self.lines[self.content[0]]
        title = Line(number=first.number, content=self.fallback_title or "", start=first.start,
                     end=first.start, indent=0, blank=False, noise=False)
        self.result.warnings.append(
            f"{self.where(first)}: no line looks like a report title; the whole file is one report "
            f"titled 「{self.fallback_title}」 (its file name)"
        )
        self.result.reports.append(ReportSpan(title=title, body=[self.lines[i] for i in self.content]))
        return self.result

    def _body_before(self, start: int) -> bool:
        """True if a sentence comes before line ``start``: front matter is a title, a count and a table of
        contents, never text."""
        return any(
            _SENTENCE_PUNCT_RE.search(c := self.lines[i].content)
            and not (is_toc_heading(c) or _looks_like_toc_line(c) or COUNT_ONLY_RE.match(c))
            for i in self.content if i < start
        )

    def _titles_file(self, i: int) -> bool:
        """Line ``i`` can title a file that has no report title line: short, no sentence, text after it."""
        line = self.lines[i]
        return (len(line.content) <= 60 and not _SENTENCE_PUNCT_RE.search(line.content)
                and i in self.next_content)

    def _fallback_start(self) -> int:
        """No line looks like a report title: accept a short first line as the title of a single report."""
        first = self.content[0]
        line = self.lines[first]
        if self._titles_file(first):
            self.result.warnings.append(
                f"{self.where(line)}: no line looks like a report title; "
                f"taking 「{line.content}」 as the title"
            )
            return first
        raise CorpusError(
            f"{self.where(line)}: no report title found; a report starts with a title line such as "
            "「XX局2023年工作总结」 followed by its text"
        )

    def _front_matter(self, start: int) -> None:
        """Lines before the first report: compilation title, 「（26篇）」 count, table of contents."""
        res = self.result
        front = [i for i in self.content if i < start]
        toc_at = next((i for i in front if is_toc_heading(self.lines[i].content)), None)
        for i in front:
            line = self.lines[i]
            if toc_at is not None and i >= toc_at:
                break
            if COUNT_ONLY_RE.match(line.content):
                res.declared_count = declared_count(line.content)
            elif res.compilation_title is None:
                res.compilation_title = line
            else:
                res.warnings.append(
                    f"{self.where(line)}: text before the first report is not part of any report"
                )
        if res.compilation_title and (count := declared_count(res.compilation_title.content)):
            res.declared_count = count
        if toc_at is None:
            return
        own_title = _norm_title(res.compilation_title.content) if res.compilation_title else None
        for i in front:
            if i <= toc_at:
                continue
            line = self.lines[i]
            entry = parse_toc_entry(line)
            if entry is None:
                if not is_toc_heading(line.content) and not COUNT_ONLY_RE.match(line.content):
                    res.warnings.append(f"{self.where(line)}: line in the table of contents is not an entry")
                continue
            if entry.title and (is_toc_heading(entry.title) or _norm_title(entry.title) == own_title):
                continue  # the TOC lists the compilation itself or 「目录」
            res.toc.append(entry)

    def _structural_titles(self, start: int) -> list[int]:
        region = [i for i in self.content if i >= start]
        body_lines = [i for i in region if i not in self.strength]
        typical_gap = statistics.median(self.gap_before(i) for i in body_lines) if body_lines else 0
        typical_indent = statistics.median(self.lines[i].indent for i in body_lines) if body_lines else 0

        def set_apart(i: int) -> bool:
            return self.gap_before(i) > typical_gap or self.lines[i].indent < typical_indent

        candidates = [i for i in region if i in self.strength and i != start and self.followed_by_body(i)]
        apart = [i for i in candidates if set_apart(i)]
        # The file has a layout convention for titles if most title-like lines follow one.
        convention = bool(apart) and len(apart) * 2 >= len(candidates)
        for i in region:
            if i in self.strength and i != start and not self.followed_by_body(i) and set_apart(i):
                line = self.lines[i]
                self.result.warnings.append(
                    f"{self.where(line)}: 「{line.content}」 looks like a report title but no text "
                    "follows it; kept as text of the report before it"
                )
        titles = [start]
        for i in candidates:
            # Without a layout convention, a title with a year is enough unless it names a part of
            # the current report.
            by_shape = (
                not convention
                and self.strength[i] == 2
                and not _is_part_of(self.lines[titles[-1]], self.lines[i])
            )
            if set_apart(i) or by_shape:
                titles.append(i)
        return titles

    def _check_against_toc(self, titles: list[int], start: int) -> list[int]:
        listed = [e for e in self.result.toc if e.title]
        if not listed:
            return titles
        found = [_norm_title(self.lines[i].content) for i in titles]
        if found == [_norm_title(e.title or "") for e in listed]:
            return titles
        # Let the table of contents lead: find each listed title, in order, among the title-like lines.
        guided: list[int] = []
        pool = [i for i in self.content if i >= start and not parse_marker(self.lines[i].content)]
        pos = 0
        for entry in listed:
            want = _norm_title(entry.title or "")
            while pos < len(pool) and _norm_title(self.lines[pool[pos]].content) != want:
                pos += 1
            if pos == len(pool):
                break
            guided.append(pool[pos])
            pos += 1
        if len(guided) == len(listed) and all(i in self.next_content for i in guided):
            self.result.warnings.append(
                f"{self.source.name}: title detection found {len(titles)} reports; "
                f"followed the table of contents ({len(listed)} titles)"
            )
            return guided
        listed_titles = {_norm_title(e.title or "") for e in listed}
        for entry in listed:
            if _norm_title(entry.title or "") not in found:
                self.result.warnings.append(
                    f"{self.source.name}:{entry.line}: the table of contents lists 「{entry.title}」 "
                    "but no report has that title"
                )
        for i in titles:
            if _norm_title(self.lines[i].content) not in listed_titles:
                self.result.warnings.append(
                    f"{self.where(self.lines[i])}: report 「{self.lines[i].content}」 is not in the "
                    "table of contents"
                )
        return titles

    def _build_spans(self, titles: list[int]) -> None:
        bounds = [*titles, len(self.lines)]
        for title, end in itertools.pairwise(bounds):
            body = [self.lines[i] for i in self.content if title < i < end]
            if not body:
                line = self.lines[title]
                raise CorpusError(
                    f"{self.where(line)}: report title 「{line.content}」 is followed by no text"
                )
            self.result.reports.append(ReportSpan(title=self.lines[title], body=body))

    def _check_counts(self) -> None:
        res = self.result
        n = len(res.reports)
        if res.toc and not any(e.title for e in res.toc) and len(res.toc) != n:
            res.warnings.append(
                f"{self.source.name}: the table of contents has {len(res.toc)} entries, found {n} reports"
            )
        if res.declared_count is not None and res.declared_count != n:
            res.warnings.append(
                f"{self.source.name}: the compilation announces {res.declared_count} reports, found {n}"
            )


def _is_part_of(report_title: Line, candidate: Line) -> bool:
    """True if ``candidate`` names a part of the report: 「2024年工作计划」 inside
    「…2023年工作总结和2024年工作计划」 is that report's plan, not a new report."""
    if metadata.report_kind(report_title.content) != "both":
        return False
    if metadata.report_kind(candidate.content) not in ("总结", "计划"):
        return False
    if metadata.body_from_title(candidate.content):
        return False
    periods = set(metadata.parse_periods(report_title.content))
    return set(metadata.parse_periods(candidate.content)) <= periods


def segment(source: SourceText, mode: SegmentMode = "auto",
            fallback_title: str | None = None) -> Segmentation:
    """``mode``: "auto" finds every report; "single" takes the first title and everything after it as one
    report; "compilation" is "auto" that fails unless it finds two or more reports."""
    return _Segmenter(source, mode, fallback_title).run()
