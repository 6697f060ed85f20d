"""Search and the report browser: `GET /v1/search`, `/v1/reports`, `/v1/reports/{id}`, sections.

Plain ``def`` handlers: FastAPI runs them in its thread pool, so embedding a query never blocks the
event loop.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import CorpusDep, RetrieverDep, RuntimeDep, require_api_key
from api.errors import ApiError
from api.schemas.browse import (
    Facets,
    ParagraphText,
    ReportDetail,
    ReportList,
    ReportSummary,
    SearchResponse,
    SectionExpand,
    SectionNode,
    SectionRef,
    SectionText,
)
from api.schemas.errors import ERROR_RESPONSES, error_responses
from api.schemas.questions import EXAMPLE_QUESTION, MAX_K, Question
from rag.corpus import Corpus, Report, Section
from rag.errors import ReportNotFound
from rag.retrieval.retriever import Filters, Mode

router = APIRouter(prefix="/v1", tags=["search and reports"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)

Period = Annotated[str | None, Query(max_length=100, description="e.g. 2023年下半年")]
Kind = Annotated[str | None, Query(max_length=10, description="总结 or 计划")]
Body = Annotated[str | None, Query(max_length=100, description="Substring of the issuing body or title.")]
Level = Annotated[str | None, Query(max_length=10, description="市/区/县/乡/镇/街道/村")]


@router.get("/search", response_model=SearchResponse, summary="Hybrid search (BM25 + dense) over the reports",
            responses=error_responses(422, 503))
def search(
    runtime: RuntimeDep,
    retriever: RetrieverDep,
    q: Annotated[Question, Query(description="The query, 1–2000 characters.", examples=[EXAMPLE_QUESTION])],
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    mode: Annotated[Mode, Query()] = "hybrid",
    period: Period = None, kind: Kind = None, body: Body = None, level: Level = None,
    report_id: Annotated[str | None, Query(max_length=200)] = None,
) -> SearchResponse:
    filters = Filters(period=period, kind=kind, body=body, level=level, report_id=report_id)
    if not runtime.search_slots.acquire(blocking=False):
        raise ApiError(503, "busy", f"{runtime.settings.search_concurrency} searches are running; retry in a "
                       "second", headers={"Retry-After": "1"})
    try:
        t0 = time.perf_counter()
        hits = retriever.search(q, k=k, filters=filters, mode=mode)
    finally:
        runtime.search_slots.release()
    return SearchResponse(query=q, k=k, took_ms=round((time.perf_counter() - t0) * 1000, 1), hits=hits)


def summary(report: Report) -> ReportSummary:
    return ReportSummary(
        id=report.id, title=report.title, source_file=report.source_file, ordinal=report.ordinal,
        title_line=report.title_line, body=report.issuing_body, level=report.admin_level,
        period=report.period, periods=report.periods, kind=report.kind, n_sections=report.n_sections,
    )


def node(section: Section) -> SectionNode:
    return SectionNode(
        id=section.id, heading=section.heading, marker=section.marker, level=section.level,
        path=section.path, line_start=section.line_start, line_end=section.line_end,
        n_paragraphs=len(section.paragraphs), children=[node(c) for c in section.children],
    )


def _facets(corpus: Corpus) -> Facets:
    reports = corpus.reports
    return Facets(
        periods=sorted({p for r in reports for p in r.periods}),
        kinds=sorted({r.kind for r in reports if r.kind}),
        bodies=sorted({r.issuing_body for r in reports if r.issuing_body}),
        levels=sorted({r.admin_level for r in reports if r.admin_level}),
    )


def _report(corpus: Corpus, report_id: str) -> Report:
    try:
        return corpus.get(report_id)
    except ReportNotFound:
        raise ApiError(404, "report_not_found",
                       f"no report with id {report_id!r}; GET /v1/reports lists them", id=report_id) from None


@router.get("/reports", response_model=ReportList, summary="Reports, filtered by metadata",
            responses=error_responses(422, 503))
def list_reports(corpus: CorpusDep, period: Period = None, kind: Kind = None, body: Body = None,
                 level: Level = None) -> ReportList:
    def keep(r: Report) -> bool:
        return ((not period or any(period in p for p in r.periods))
                and (not kind or r.kind == kind or r.kind == "both")
                and (not body or body in (r.issuing_body or "") or body in r.title)
                and (not level or r.admin_level == level))

    reports = [summary(r) for r in corpus.reports if keep(r)]
    return ReportList(total=len(reports), reports=reports, facets=_facets(corpus))


@router.get("/reports/{report_id}", response_model=ReportDetail, summary="One report and its section tree",
            responses=error_responses(404, 503))
def get_report(report_id: str, corpus: CorpusDep) -> ReportDetail:
    report = _report(corpus, report_id)
    return ReportDetail(**summary(report).model_dump(), compilation_title=report.compilation_title,
                        sections=node(report.root))


def _walk(section: Section, above: tuple[Section, ...] = ()) -> Iterator[tuple[Section, tuple[Section, ...]]]:
    """Every section in reading order, each with the sections above it (the root first)."""
    yield section, above
    for child in section.children:
        yield from _walk(child, (*above, section))


def ref(section: Section) -> SectionRef:
    return SectionRef(id=section.id, heading=section.heading, path=section.path)


def _neighbours(report: Report, section: Section, depth: int) -> tuple[Section | None, Section | None]:
    """The sections before and after ``section`` among those of its depth, in reading order (across
    parents). The root (preamble) stands before the top-level sections when it holds paragraphs, and
    always when it is the one asked about (so its next is the first top-level section)."""
    root = report.root
    if depth <= 1:
        row = ([root] if root.paragraphs or section is root else []) + list(root.children)
    else:
        row = [s for s, above in _walk(root) if len(above) == depth]
    i = next(i for i, s in enumerate(row) if s is section)
    return (row[i - 1] if i > 0 else None), (row[i + 1] if i + 1 < len(row) else None)


@router.get("/reports/{report_id}/sections/{section_id}", response_model=SectionText,
            summary="A section's full text, paragraph by paragraph with source offsets, and where it stands",
            description="The section with its sub-sections, a breadcrumb (`trail`) down to it, and its "
                        "neighbours (`previous`, `next`) for reading on. `expand=chapter` returns the whole "
                        "top-level section that holds it (e.g. to show a citation in its chapter); `trail` "
                        "and `requested_id` still name the section asked for.",
            responses=error_responses(404, 422, 503))
def get_section(
    report_id: str, section_id: str, corpus: CorpusDep,
    expand: Annotated[SectionExpand, Query(description="section: the section asked for; chapter: the "
                                           "top-level section that holds it (itself when top-level, the "
                                           "root for the root).")] = "section",
) -> SectionText:
    report = _report(corpus, report_id)
    found = next(((s, above) for s, above in _walk(report.root) if s.id == section_id), None)
    if found is None:
        raise ApiError(404, "section_not_found", f"report {report_id} has no section {section_id!r}; "
                       f"GET /v1/reports/{report_id} lists its sections", id=section_id)
    requested, above = found
    trail = [*above[1:], requested] if above else []  # the root is in no breadcrumb
    section, depth = (trail[0], 1) if expand == "chapter" and trail else (requested, len(above))
    previous, following = _neighbours(report, section, depth)
    # Sub-sections included, in source order: reading 「二、」 shows everything under it.
    pairs = sorted(((s, p) for s in section.iter_sections() for p in s.paragraphs),
                   key=lambda sp: sp[1].char_start)
    paragraphs = [ParagraphText(id=p.id, section_id=s.id, text=p.text, line=p.line, char_start=p.char_start,
                                char_end=p.char_end, kind=p.kind) for s, p in pairs]
    return SectionText(report=summary(report), requested_id=requested.id, section=node(section),
                       text="\n".join(p.text for p in paragraphs), paragraphs=paragraphs,
                       trail=[ref(s) for s in trail], previous=ref(previous) if previous else None,
                       next=ref(following) if following else None)
