"""Bodies of search and the report browser (`GET /v1/search`, `/v1/reports`, a report, its sections)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from rag.retrieval.retriever import Hit


class SearchResponse(BaseModel):
    query: str
    k: int
    took_ms: float
    hits: list[Hit]


class ReportSummary(BaseModel):
    id: str = Field(examples=["004_0fd432a33c6b23a6-r05"])
    title: str
    source_file: str
    ordinal: int
    title_line: int
    body: str | None = Field(None, description="Issuing body, e.g. 县水利局.")
    level: str | None = Field(None, description="市/区/县/乡/镇/街道/村")
    period: str | None = Field(None, description="First period the title names, e.g. 2023年下半年.")
    periods: list[str] = Field(default_factory=list)
    kind: str | None = Field(None, description="总结, 计划 or both.")
    n_sections: int


class Facets(BaseModel):
    """Distinct values over all reports, for building filter menus."""

    periods: list[str]
    kinds: list[str]
    bodies: list[str]
    levels: list[str]


class ReportList(BaseModel):
    total: int = Field(description="Reports matching the filters.")
    reports: list[ReportSummary]
    facets: Facets


class SectionNode(BaseModel):
    id: str
    heading: str | None = Field(description="None for the report's preamble (the root).")
    marker: str | None = None
    level: int
    path: list[str]
    line_start: int
    line_end: int
    n_paragraphs: int = Field(description="Paragraphs held directly by this section.")
    children: list[SectionNode] = Field(default_factory=list)


class ReportDetail(ReportSummary):
    compilation_title: str | None = None
    sections: SectionNode = Field(description="The section tree; the root holds the preamble.")


class ParagraphText(BaseModel):
    id: str
    section_id: str = Field(description="The (sub)section that holds the paragraph.")
    text: str = Field(description="The line as in the source.")
    line: int
    char_start: int = Field(description="Offset in the source text; citations use the same offsets.")
    char_end: int
    kind: str


class SectionRef(BaseModel):
    """A section named for navigation (breadcrumb, previous / next)."""

    id: str
    heading: str | None = Field(description="None for the report's preamble (the root).")
    path: list[str] = Field(description="Headings from the top down to this one (empty for the root).")


SectionExpand = Literal["section", "chapter"]


class SectionText(BaseModel):
    report: ReportSummary
    requested_id: str = Field(description="The section asked for (with expand=chapter `section` may be the "
                                          "top-level section holding it).")
    section: SectionNode = Field(description="The section returned: the requested one, or with "
                                             "expand=chapter the top-level section that holds it (itself "
                                             "when top-level; the root when the root was asked).")
    text: str = Field(description="The section's paragraphs (sub-sections included), one per line.")
    paragraphs: list[ParagraphText]
    trail: list[SectionRef] = Field(description="Breadcrumb: the sections from the top level down to the "
                                                "*requested* one, that one included; the root (preamble) "
                                                "is never in it, so it is empty when the root was asked.")
    previous: SectionRef | None = Field(
        description="The section before the *returned* one among the report's sections of the same depth, "
                    "in reading order across parents (the last （…） of 一、 precedes the first of 二、). "
                    "The root counts as the first top-level section when it holds paragraphs (a preamble). "
                    "None at the start.")
    next: SectionRef | None = Field(
        description="The section after the returned one, by the same rule; for the root, the first "
                    "top-level section. None at the end.")
