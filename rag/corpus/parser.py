"""One report file → ``SourceFile`` with its ``Report`` objects (segmentation, section trees, metadata)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePath

from rag.corpus import metadata
from rag.corpus.models import Report, SourceFile
from rag.corpus.reading import SourceText, decode_source
from rag.corpus.sections import build_section_tree
from rag.corpus.segment import ReportSpan, SegmentMode, segment, title_text
from rag.errors import CorpusError
from rag.text.normalize import normalize_for_search

# Bump when parsing changes the ids, sections or metadata it produces: indexes built earlier become stale.
PARSER_VERSION = "3"  # 2: Markdown heading marks left out of titles; a file's name names a lone report's body
# 3: a numbered Markdown heading is no title; body text before the first title makes the file one document

def name_parts(file_name: str) -> list[str]:
    """The words of a file's name, without its numbering and ids: 「med_140_霜叶市第一人民医院_喻某某.txt」 →
    霜叶市第一人民医院, 喻某某; 「000_dffbd2b9ae2d443c.txt」 → none."""
    return [p for p in re.split(r"[_\-\s.]+", PurePath(file_name).stem) if re.search(r"[\u4e00-\u9fff]", p)]


def report_id(file_name: str, ordinal: int) -> str:
    """'<file stem>-r<ordinal>': the same file gives the same ids on every run."""
    return f"{PurePath(file_name).stem}-r{ordinal:02d}"


def _opening(report: Report) -> str | None:
    """The first two plain paragraphs, where reports say who is writing (「市医保局在市委…领导下」)."""
    texts = [p.text for _, p in report.iter_paragraphs() if p.kind == "text"][:2]
    return "".join(texts) or None


def _build_report(
    source: SourceText, span: ReportSpan, ordinal: int, compilation_title: str | None
) -> Report:
    rid = report_id(source.name, ordinal)
    title = title_text(span.title.content)  # 「# 刑事判决书」: the words, not the mark-up
    root = build_section_tree(rid, span.body)
    default_year = metadata.first_year(compilation_title or "")
    report = Report(
        id=rid,
        source_file=source.name,
        ordinal=ordinal,
        compilation_title=compilation_title,
        title=title,
        search_title=normalize_for_search(title),
        title_line=span.title.number,
        title_char_start=span.title.start,
        title_char_end=span.title.end,
        line_end=span.body[-1].number,
        periods=metadata.parse_periods(
            title, default_year=default_year if not metadata.first_year(title) else None
        ),
        kind=metadata.report_kind(title),
        root=root,
    )
    if not report.periods and compilation_title:
        report.periods = metadata.parse_periods(compilation_title)
    body, body_source, level = metadata.describe_writer(title, _opening(report))
    report.issuing_body, report.issuing_body_source, report.admin_level = body, body_source, level
    return report


def parse_source(source: SourceText, sha256: str = "", mode: SegmentMode = "auto",
                 fallback_title: str | None = None) -> SourceFile:
    seg = segment(source, mode, fallback_title)
    compilation_title = seg.compilation_title.content if seg.compilation_title else None
    reports = [
        _build_report(source, span, ordinal, compilation_title)
        for ordinal, span in enumerate(seg.reports, start=1)
    ]
    if len(reports) == 1 and reports[0].issuing_body is None:
        # A lone document titled only by its kind (「刑事判决书」「住院病历」): its file name is the title
        # it was filed under, and names its author when it holds one (「law_080_苹果市珠港区人民法院.txt」).
        named = next((b for part in name_parts(source.name) if (b := metadata.body_from_title(part))), None)
        if named is not None:
            reports[0].issuing_body, reports[0].issuing_body_source = named, "file_name"
            reports[0].admin_level = reports[0].admin_level or metadata.level_of_body(named)
    return SourceFile(
        name=source.name,
        sha256=sha256,
        encoding=source.encoding,
        newline=source.newline,
        compilation_title=compilation_title,
        compilation_title_line=seg.compilation_title.number if seg.compilation_title else None,
        declared_count=seg.declared_count,
        toc=seg.toc,
        reports=reports,
        warnings=seg.warnings,
    )


def parse_bytes(data: bytes, name: str, mode: SegmentMode = "auto",
                fallback_title: str | None = None) -> SourceFile:
    """``mode`` and ``fallback_title``: see ``segment.segment`` (ingest uses them; the defaults are what
    the bundled corpus is parsed with)."""
    return parse_source(decode_source(data, name), hashlib.sha256(data).hexdigest(), mode, fallback_title)


def parse_file(path: Path | str, mode: SegmentMode = "auto", fallback_title: str | None = None) -> SourceFile:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path.name}: cannot read the file ({exc.strerror or exc})") from exc
    return parse_bytes(data, path.name, mode, fallback_title)
