"""What a change to the library reports: the summary of what it did, and the ways it is refused."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from rag.errors import CorpusError, RagError
from rag.library.uploads import IngestError, IngestTooLarge


class FileExists(IngestError):
    """A file of that name is already in the corpus and replacing it was not asked for."""

    http_status = 409


class LastReports(IngestError):
    """A removal would leave the corpus empty (a conflict with the library's state, not bad input)."""

    http_status = 409


class LibraryBusy(RagError):
    """Another ingest or remove is writing the library; retry after ``retry_after`` seconds."""

    http_status = 409
    retry_after = 10


def rejected_error(messages: list[str], errors: list[CorpusError]) -> IngestError:
    """One error for every rejected file; its status is theirs when they agree (all too large: 413, all
    name clashes: 409), else 422."""
    statuses = {int(getattr(e, "http_status", 422)) for e in errors}
    cls = {413: IngestTooLarge, 409: FileExists}.get(statuses.pop(), IngestError) if len(statuses) == 1 \
        else IngestError
    return cls("nothing was ingested:\n  " + "\n  ".join(messages))



class FileChange(BaseModel):
    name: str
    action: Literal["added", "replaced", "unchanged", "removed", "reports removed"]
    reports: list[str] = Field(default_factory=list, description="Report ids now (or formerly) in it.")
    titles: list[str] = Field(default_factory=list)
    sections: int = 0
    warnings: list[str] = Field(default_factory=list)


class ChangeSummary(BaseModel):
    changed: bool
    version: str | None = Field(None, description="The live library version afterwards.")
    files: list[FileChange] = Field(default_factory=list)
    reports_added: int = 0
    reports_replaced: int = 0
    reports_removed: int = 0
    sections_added: int = 0
    sections_removed: int = 0
    n_reports: int = 0
    embedded: int = Field(0, description="Texts embedded now, chunks and their sentences (the rest came from "
                          "the embedding cache).")
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = []
        for f in self.files:
            title = f"  {'; '.join(f.titles[:3])}{' …' if len(f.titles) > 3 else ''}" if f.titles else ""
            out.append(f"{f.action:>15}  {f.name}: {len(f.reports)} reports, {f.sections} sections{title}")
            out.extend(f"        warning: {w}" for w in f.warnings)
        if not self.changed:
            out.append("nothing changed (every file is already in the corpus with the same content)")
        else:
            out.append(
                f"reports: {self.reports_added} added, {self.reports_replaced} replaced, "
                f"{self.reports_removed} removed; sections: {self.sections_added} added, "
                f"{self.sections_removed} removed; {self.n_reports} reports in the corpus "
                f"(version {self.version}; {self.embedded} texts embedded, {self.seconds:.1f} s)"
            )
        return out
