"""The document model: compilations hold reports, reports hold a section tree of paragraphs.

These models cross into retrieval, the API and the web client. Positions are always given twice: a
1-based ``line`` (what an editor shows) and ``char_start``/``char_end``, offsets into the normalised
source text of the file (``rag.corpus.reading.source_text``), so that
``source_text[char_start:char_end] == text`` for every paragraph and report title.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, computed_field

from rag.errors import ReportNotFound, SectionNotFound

ReportKind = Literal["总结", "计划", "both"]
AdminLevel = Literal["市", "区", "县", "乡", "镇", "街道", "村"]
# heading: the line is only a section heading; run_in: a heading followed by body text on the same line
# (「（一）推动执法力量下沉。进一步…」); item: a numbered list item that does not open a section;
# closing: signature or date lines at the end of a report; text: everything else.
ParagraphKind = Literal["text", "heading", "run_in", "item", "closing"]


class _Model(BaseModel):
    # Unknown keys are ignored so that a dump (which includes computed fields) validates back.
    model_config = ConfigDict(extra="ignore")


class Paragraph(_Model):
    id: str = Field(description="Stable id: '<report id>-p<n>', n counting the report's paragraphs from 1.")
    text: str = Field(description="The line as in the source, without leading/trailing whitespace.")
    search_text: str = Field(description="normalize_for_search(text): placeholders restored, for matching.")
    line: int = Field(ge=1, description="1-based line in the source file.")
    char_start: int = Field(ge=0, description="Offset of text in the normalised source text.")
    char_end: int = Field(ge=0)
    kind: ParagraphKind = "text"
    marker: str | None = Field(None, description="Numbering the line starts with, e.g. '（一）' or '1.'.")


class Section(_Model):
    id: str = Field(description="'<report id>-s0' for the root, '<report id>-s1.2' for the 2nd child of s1.")
    report_id: str
    heading: str | None = Field(description="Heading as shown, numbering included; None for the root.")
    marker: str | None = Field(None, description="The heading's numbering, e.g. '一、', '（二）', '3.'.")
    numbering_level: int | None = Field(
        None, description="Numbering style: 1 for 一、, 2 for （一）, 3 for 1., 4 for （1）/①."
    )
    level: int = Field(ge=0, description="Depth in the tree: 0 root (preamble), 1 top-level section, …")
    path: list[str] = Field(default_factory=list, description="Headings from the top down to this one.")
    line_start: int = Field(ge=1)
    line_end: int = Field(ge=1)
    char_start: int = Field(ge=0)
    char_end: int = Field(ge=0)
    paragraphs: list[Paragraph] = Field(default_factory=list)
    children: list[Section] = Field(default_factory=list)

    def iter_sections(self) -> Iterator[Section]:
        """This section and all below it, in document order."""
        yield self
        for child in self.children:
            yield from child.iter_sections()


class Report(_Model):
    id: str = Field(description="Stable id: '<file stem>-r<ordinal, 2 digits>'.")
    source_file: str = Field(description="File name inside the data folder.")
    ordinal: int = Field(ge=1, description="Position of the report in its file, from 1.")
    compilation_title: str | None = Field(None, description="The file's own title, if it is a compilation.")
    title: str
    search_title: str
    title_line: int = Field(ge=1)
    title_char_start: int = Field(ge=0)
    title_char_end: int = Field(ge=0)
    line_end: int = Field(ge=1, description="Last line with report text.")
    issuing_body: str | None = Field(None, description="Who wrote it, e.g. '县水利局', 'XX镇'.")
    issuing_body_source: Literal["title", "opening", "file_name"] | None = None
    admin_level: AdminLevel | None = None
    periods: list[str] = Field(default_factory=list, description="Periods named in the title, in order.")
    kind: ReportKind | None = None
    root: Section = Field(description="Level-0 section: preamble paragraphs, children = top-level sections.")

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects any decorator over @property
    @property
    def period(self) -> str | None:
        """The first period the title names (what a summary covers, or a plan's period)."""
        return self.periods[0] if self.periods else None

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects any decorator over @property
    @property
    def n_sections(self) -> int:
        return sum(1 for _ in self.root.iter_sections()) - 1

    def iter_sections(self) -> Iterator[Section]:
        """Root first, then every section in document order."""
        return self.root.iter_sections()

    def iter_paragraphs(self) -> Iterator[tuple[Section, Paragraph]]:
        """Every paragraph with the section that holds it, in document (line) order."""
        pairs = [(s, p) for s in self.iter_sections() for p in s.paragraphs]
        return iter(sorted(pairs, key=lambda pair: pair[1].char_start))

    def section(self, section_id: str) -> Section:
        for section in self.iter_sections():
            if section.id == section_id:
                return section
        raise SectionNotFound(f"report {self.id} has no section {section_id!r}")

    def summary(self) -> dict[str, object]:
        """The row `rag corpus` lists."""
        return {
            "id": self.id,
            "source_file": self.source_file,
            "ordinal": self.ordinal,
            "title": self.title,
            "title_line": self.title_line,
            "body": self.issuing_body,
            "level": self.admin_level,
            "period": self.period,
            "kind": self.kind,
            "n_sections": self.n_sections,
        }


class TocEntry(_Model):
    line: int = Field(ge=1)
    number: int | None = None
    title: str | None = Field(
        None, description="Listed title without numbering and page; None if only a number."
    )
    page: int | None = None


class SourceFile(_Model):
    name: str
    sha256: str = Field(description="Hash of the file's bytes.")
    encoding: str
    newline: str
    compilation_title: str | None = None
    compilation_title_line: int | None = None
    declared_count: int | None = Field(None, description="Count the compilation announces, e.g. （26篇）.")
    toc: list[TocEntry] = Field(default_factory=list)
    reports: list[Report] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list, description="Doubts found while parsing, file:line first."
    )


class Corpus(_Model):
    data_dir: str
    parser_version: str
    content_hash: str = Field(
        description="Changes when any file's bytes, the file set or the parser changes."
    )
    files: list[SourceFile] = Field(default_factory=list)
    _by_id: dict[str, Report] = PrivateAttr(default_factory=dict)
    # Whatever must live as long as this corpus is used: the library's lease on the version folder that
    # ``data_dir`` names (its files are read lazily, for quotes), so no writer prunes it meanwhile.
    _held: object | None = PrivateAttr(None)

    def hold(self, resource: object) -> None:
        self._held = resource

    def model_post_init(self, __context: object) -> None:
        self._by_id = {report.id: report for report in self.reports}

    @property
    def reports(self) -> list[Report]:
        return [report for source in self.files for report in source.reports]

    @property
    def warnings(self) -> list[str]:
        return [warning for source in self.files for warning in source.warnings]

    def get(self, report_id: str) -> Report:
        try:
            return self._by_id[report_id]
        except KeyError:
            raise ReportNotFound(f"no report with id {report_id!r}; `rag corpus` lists the ids") from None

    def resolve(self, ref: str) -> Report:
        """A report by id, or by '<unique start of a file stem>-r<ordinal>' (e.g. '000-r3')."""
        if ref in self._by_id:
            return self._by_id[ref]
        stem, sep, ordinal = ref.rpartition("-r")
        if sep and stem and ordinal.isdigit():
            matches = [
                r
                for r in self.reports
                if r.id.rpartition("-r")[0].startswith(stem) and r.ordinal == int(ordinal)
            ]
            if len(matches) == 1:
                return matches[0]
        return self.get(ref)

    def source_path(self, report: Report) -> Path:
        """The file a report comes from; ``reading.source_text`` of it is what offsets refer to."""
        return Path(self.data_dir) / report.source_file

    def find_section(self, section_id: str) -> tuple[Report, Section]:
        report_id = section_id.rpartition("-s")[0]
        report = self.get(report_id)
        return report, report.section(section_id)
