"""Users' own reports: ingest, replace and remove, with the corpus and the index moving together from one
consistent version to the next.

Where the reports live. ``data_dir`` stays what it always was, the bundled reports (in git; nothing here
writes into it). Ingested reports go to the *library*, ``<data_dir>/library`` by default (setting
``library_dir``): "originals kept under the data dir", outside ``var/`` so ``make clean`` never deletes
them, and in ``.gitignore``. Until the first ingest there is no library and the corpus is ``data_dir``
as before; the first ingest copies the bundled files into the first version, so from then on one folder
holds everything the service answers from.

Layout of the library::

    CURRENT                  name of the live version (replaced atomically)
    c-000007-<hash>/         one complete data folder: every report file of this version, hard links
                             to the previous version's bytes where unchanged; originals/ (uploaded
                             .docx as given); library.json = LibraryManifest (each file with sha256 and
                             parse mode, removed report ids, and the index version built from exactly
                             these files) — written last, so a folder without it is incomplete
    .tmp-*                   a version being written; garbage after a crash, removed by the next writer
    .lock                    flock: one writer at a time, CLI and API alike

A commit: write the new folder aside (fsync every file), parse it, build its index version beside the
live one (``build_index(..., make_current=False)``: only chunks whose text the embedding cache has not
seen are embedded), write library.json naming that index version, fsync, rename the folder into place,
then swap ``CURRENT`` (write aside, fsync, rename, fsync the folder), and only then point the index's
own ``CURRENT`` at the new index version (for `rag index` and older readers). Readers go through the
library's ``CURRENT`` and load the index version its manifest names, so a `kill -9` at any moment
leaves either the previous version or the new one — never a mix, never a loss. Old versions are pruned
(the newest three are kept, so a query in flight on the previous version can still read its files).

Report ids stay ``<file stem>-rNN``, so a file is identified by its name: ingesting a file whose name
is already in the corpus replaces that file's reports (a file with the same bytes and mode is a no-op).
``remove`` drops whole files, or lists single reports of a compilation as removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Literal

from pydantic import BaseModel, Field
from tqdm import tqdm

from embeddings.cache import EmbeddingCache
from embeddings.encoder import model_fingerprint
from rag.config import Settings
from rag.corpus import PARSER_VERSION, Corpus, SourceFile, load_corpus, parse_bytes
from rag.corpus.loader import corpus_files
from rag.corpus.segment import SegmentMode
from rag.errors import CorpusError, RagError, ReportNotFound
from rag.library.uploads import (
    DOCX_SUFFIXES,
    INGEST_SUFFIXES,
    IngestError,
    IngestTooLarge,
    check_name,
    docx_text,
    too_big,
)
from rag.retrieval.chunking import chunk_config
from rag.retrieval.index import build_index
from rag.retrieval.index import prune as prune_index
from rag.storage import Lease, fsync_dir, fsync_file, prune_versions, set_current, write_file

__all__ = ["ChangeSummary", "CorpusVersion", "FileExists", "IngestError", "IngestTooLarge", "Library",
           "LibraryBusy", "Upload", "current_library", "live_version", "open_corpus", "read_uploads"]

FORMAT = 1
MANIFEST = "library.json"
KEEP_VERSIONS = 3

Step = Callable[[str], None]  # called with the name of each commit step (progress, crash tests)


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


class LibraryFile(BaseModel):
    name: str = Field(description="File name in the version folder; report ids are '<stem>-rNN'.")
    sha256: str
    size: int
    origin: Literal["bundled", "ingested"]
    mode: SegmentMode = "auto"
    original: str | None = Field(None, description="originals/<name> as uploaded, when converted (.docx).")
    source: str | None = Field(None, description="Where the file came from (path or upload name).")
    added_at: float = 0.0


class LibraryManifest(BaseModel):
    format: int = FORMAT
    seq: int
    created_at: float
    files: list[LibraryFile]
    removed_reports: list[str] = Field(default_factory=list)
    corpus_hash: str
    index_version: str | None = None
    n_reports: int


@dataclass
class CorpusVersion:
    """What readers load: the corpus, the library version it comes from (None: plain ``data_dir``) and
    the index version built for it."""

    corpus: Corpus
    name: str | None = None
    index_version: str | None = None


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
    embedded: int = Field(0, description="Chunks embedded now (the rest came from the embedding cache).")
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
                f"(version {self.version}; {self.embedded} chunks embedded, {self.seconds:.1f} s)"
            )
        return out


# -- reading ---------------------------------------------------------------------------------------


def _current_name(lib: Path) -> str | None:
    try:
        name = (lib / "CURRENT").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not name or name.startswith(".") or "/" in name:
        raise CorpusError(f"{lib / 'CURRENT'} is damaged; write the name of a c-* folder into it")
    return name


def _read_manifest(lib: Path, name: str) -> LibraryManifest:
    folder = lib / name
    try:
        return LibraryManifest.model_validate_json((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(f"library version {folder} is unreadable ({exc}); point {lib / 'CURRENT'} at the "
                          "previous c-* folder") from exc


def current_library(lib: Path) -> tuple[Path, LibraryManifest] | None:
    """The live version folder and its manifest, or None when nothing was ever ingested."""
    name = _current_name(lib)
    return None if name is None else (lib / name, _read_manifest(lib, name))


# Parsed files, by what decides the parse. A commit parses the old and the new version, and every commit
# parses every file; without this, one large file makes every later upload or delete pay for it again.
# Holds the files of the version last committed or opened (plus uploads being prepared): one corpus.
_ParseKey = tuple[str, str, str, str, str]
_parsed: dict[_ParseKey, SourceFile] = {}
_parsed_lock = threading.Lock()


def _parse_key(f: LibraryFile) -> _ParseKey:
    return (f.name, f.sha256, f.mode, f.origin, PARSER_VERSION)


def _keep_parsed(files: Sequence[LibraryFile]) -> None:
    """Forget parsed files other than these (the version just committed or opened)."""
    keep = {_parse_key(f) for f in files}
    with _parsed_lock:
        for key in [k for k in _parsed if k not in keep]:
            del _parsed[key]


def _parse_entry(folder: Path, f: LibraryFile) -> SourceFile:
    with _parsed_lock:
        cached = _parsed.get(_parse_key(f))
    if cached is not None:
        return cached.model_copy()  # shallow: build_corpus reassigns ``reports``, never mutates it
    data = (folder / f.name).read_bytes()
    # Ingested files without a title line are one report titled by the file name (said at ingest).
    fallback = PurePath(f.name).stem if f.origin == "ingested" else None
    source = parse_bytes(data, f.name, f.mode, fallback)
    with _parsed_lock:
        _parsed[_parse_key(f)] = source
    return source.model_copy()


def corpus_hash(files: Sequence[LibraryFile], removed: Sequence[str]) -> str:
    """Same as ``load_corpus``'s hash for plain files (so the first version reuses the index built from
    ``data_dir``), plus whatever else changes the reports: a non-default mode, removed ids."""
    digest = hashlib.sha256(f"parser {PARSER_VERSION}\n".encode())
    for f in sorted(files, key=lambda f: f.name):
        digest.update(f"{f.name}\0{f.sha256}\n".encode())
        if f.mode != "auto" or f.origin == "ingested":
            digest.update(f"mode {f.mode} {f.origin}\n".encode())
    for rid in sorted(removed):
        digest.update(f"removed {rid}\n".encode())
    return digest.hexdigest()


def build_corpus(folder: Path, files: Sequence[LibraryFile], removed: Sequence[str]) -> Corpus:
    gone = set(removed)
    sources = []
    for f in sorted(files, key=lambda f: f.name):
        source = _parse_entry(folder, f)
        if gone:
            source.reports = [r for r in source.reports if r.id not in gone]
        sources.append(source)
    return Corpus(data_dir=str(folder.resolve()), parser_version=PARSER_VERSION,
                  content_hash=corpus_hash(files, removed), files=sources)


def open_corpus(settings: Settings) -> CorpusVersion:
    """The live corpus: the library's current version if there is one, else the plain ``data_dir``.

    The version is leased (``rag.storage.Lease``, held by the corpus) before it is read, so no writer
    prunes it while this corpus is in use; if it was pruned just before (several commits between reading
    ``CURRENT`` and taking the lease), ``CURRENT`` is read again."""
    lib = settings.library_path()
    for _ in range(5):
        name = _current_name(lib)
        if name is None:
            return CorpusVersion(load_corpus(settings.data_dir))
        lease = Lease(lib, name)
        if not (lib / name / MANIFEST).is_file():
            lease.release()
            continue
        manifest = _read_manifest(lib, name)
        corpus = build_corpus(lib / name, manifest.files, manifest.removed_reports)
        _keep_parsed(manifest.files)
        corpus.hold(lease)
        return CorpusVersion(corpus, name, manifest.index_version)
    raise CorpusError(f"the library in {lib} changed five times while it was being read; retry")


def live_version(settings: Settings) -> str | None:
    """Name of the live library version (cheap: one small file), for noticing another process's ingest."""
    try:
        return (settings.library_path() / "CURRENT").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


# -- input -----------------------------------------------------------------------------------------


class Upload(BaseModel):
    """One file to ingest: its name (decides the report ids) and bytes."""

    name: str
    data: bytes = Field(repr=False)
    source: str | None = None


@dataclass
class _Prepared:
    entry: LibraryFile
    data: bytes  # what is stored under entry.name (UTF-8 text for a .docx)
    original: bytes | None
    source: SourceFile


def prepare(upload: Upload, mode: SegmentMode, max_bytes: int) -> _Prepared:
    """Check, decode and parse one input (nothing is written). Raises IngestError/CorpusError."""
    name = check_name(upload.name)
    size = len(upload.data)
    if size > max_bytes:
        raise too_big(name, size, max_bytes)
    if size == 0:
        raise IngestError(f"{name}: the file is empty")
    data, original = upload.data, None
    if PurePath(name).suffix.lower() in DOCX_SUFFIXES:
        original = data
        name = PurePath(name).stem + ".txt"
        data = docx_text(upload.data, upload.name, max_bytes).encode("utf-8")
    source = parse_bytes(data, name, mode, PurePath(name).stem)
    if not source.reports:
        raise IngestError(f"{name}: no report found in the file")
    entry = LibraryFile(name=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data), origin="ingested",
                        mode=mode, original=f"originals/{upload.name}" if original is not None else None,
                        source=upload.source or upload.name, added_at=time.time())
    with _parsed_lock:  # the commit parses the new version: this file is parsed already
        _parsed[_parse_key(entry)] = source
    return _Prepared(entry, data, original, source)


def collect_paths(paths: Sequence[Path]) -> list[Path]:
    """Files named, and the .txt/.docx files inside named folders (recursively, hidden ones skipped)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INGEST_SUFFIXES
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise IngestError(f"{path}: the folder holds no .txt or .docx files")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise IngestError(f"{path}: no such file or folder")
    return out


def read_uploads(paths: Sequence[Path], max_bytes: int) -> list[Upload]:
    uploads = []
    for path in collect_paths(paths):
        try:
            size = path.stat().st_size
            if size > max_bytes:  # said before reading a huge file into memory
                raise too_big(path.name, size, max_bytes)
            data = path.read_bytes()
        except OSError as exc:
            raise IngestError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
        uploads.append(Upload(name=path.name, data=data, source=str(path)))
    return uploads


# -- writing ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def writer_lock(lib: Path, wait_s: float) -> Iterator[None]:
    """One writer at a time across processes and threads (flock on a file of the library); a writer that
    waited ``wait_s`` seconds gets LibraryBusy (409 with Retry-After over HTTP)."""
    lib.mkdir(parents=True, exist_ok=True)
    with open(lib / ".lock", "a+") as f:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LibraryBusy(f"another ingest or remove has been writing the library for over "
                                      f"{wait_s:g} s; retry when it is done (setting RAG_WRITE_WAIT_S)") \
                        from None
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _link_or_copy(src: Path, dst: Path) -> None:
    # Versions share unchanged bytes through hard links; files are never modified in place, only added.
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
        fsync_file(dst)


def _prune(lib: Path, settings: Settings, live: list[str]) -> None:
    """Keep the newest KEEP_VERSIONS library versions by sequence number (plus live and leased ones), and
    every index version that a remaining library version names. Called under the writer lock, so every
    temporary folder in the library is a crashed writer's."""
    remaining = prune_versions(lib, "c-*", KEEP_VERSIONS, live, order=lambda p: p.name, min_age_s=0)
    named = set()
    for name in remaining:
        with contextlib.suppress(CorpusError):
            named.add(_read_manifest(lib, name).index_version or "")
    if settings.index_dir.is_dir():
        prune_index(settings.index_dir, keep=KEEP_VERSIONS, live=named - {""})


def _state(settings: Settings) -> tuple[Path | None, LibraryManifest | None, list[LibraryFile]]:
    """The live folder, its manifest, and its files (the bundled ``data_dir`` files before any ingest)."""
    current = current_library(settings.library_path())
    if current is not None:
        folder, manifest = current
        return folder, manifest, list(manifest.files)
    files = []
    for path in corpus_files(settings.data_dir):
        data = path.read_bytes()
        files.append(LibraryFile(name=path.name, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                                 origin="bundled", source=str(path)))
    return None, None, files


def _clash(name: str, prev: LibraryFile) -> str:
    what = "a bundled file" if prev.origin == "bundled" else "a file added earlier"
    return (f"{name}: {what} of that name is already in the corpus, with other content; to replace its "
            "reports ingest it with replace (`rag ingest --replace`, or the form field replace=true of POST "
            "/v1/reports), or rename the file to add it beside them")


class Library:
    """Ingest and remove against the settings' library. ``encoder_factory`` is called only when a commit
    needs the encoder (the API passes the one it already has; the CLI loads the model)."""

    def __init__(self, settings: Settings, encoder_factory: Callable[[], object],
                 on_step: Step | None = None, progress: bool = True, wait_s: float | None = None):
        self.settings = settings
        self.wait_s = settings.write_wait_s if wait_s is None else wait_s  # for another writer to finish
        self.lib = settings.library_path()
        self.encoder_factory = encoder_factory
        self.on_step = on_step or (lambda step: None)
        self.progress = progress
        self.last: CorpusVersion | None = None  # the version the last commit made, loaded (for the API)
        self.last_index = None

    # -- use cases ---------------------------------------------------------------------------------

    def ingest(self, uploads: Sequence[Upload], mode: SegmentMode = "auto", skip_bad: bool = False,
               replace: bool = False) -> tuple[ChangeSummary, list[str]]:
        """Add files, or replace files of the same name when ``replace`` (otherwise a name already in the
        corpus with other content is refused: FileExists, 409). Returns the summary and the rejected
        files' messages (only with ``skip_bad``; otherwise any rejected file raises IngestError and
        nothing changes)."""
        t0 = time.perf_counter()
        if not uploads:
            raise IngestError("nothing to ingest: name .txt or .docx files, or folders holding them")
        prepared: dict[str, _Prepared] = {}
        rejected: list[str] = []
        errors: list[CorpusError] = []
        bar = tqdm(uploads, desc="reading", unit="file", disable=not self.progress or len(uploads) < 2)
        for upload in bar:
            try:
                item = prepare(upload, mode, self.settings.ingest_max_bytes)
            except CorpusError as exc:
                rejected.append(str(exc))
                errors.append(exc)
                continue
            if item.entry.name in prepared:
                rejected.append(f"{upload.name}: another input is also named {item.entry.name}; report ids "
                                "come from the file name, so rename one of them")
                errors.append(IngestError())
                continue
            prepared[item.entry.name] = item
        if rejected and (not skip_bad or not prepared):
            raise rejected_error(rejected, errors)
        with writer_lock(self.lib, self.wait_s):
            folder, manifest, files = _state(self.settings)
            by_name = {f.name: f for f in files}
            if not replace:
                for name, item in list(prepared.items()):
                    prev = by_name.get(name)
                    if prev is not None and (prev.sha256, prev.mode) != (item.entry.sha256, item.entry.mode):
                        rejected.append(_clash(name, prev))
                        errors.append(FileExists())
                        del prepared[name]
                if rejected and (not skip_bad or not prepared):
                    raise rejected_error(rejected, errors)
            removed = list(manifest.removed_reports) if manifest else []
            old = build_corpus(folder or self.settings.data_dir, files, removed)
            changes: list[FileChange] = []
            new_files = dict(by_name)
            summary = ChangeSummary(changed=False)
            for name, item in prepared.items():
                prev = by_name.get(name)
                change = FileChange(
                    name=name, action="added" if prev is None else "replaced",
                    reports=[r.id for r in item.source.reports],
                    titles=[r.title for r in item.source.reports],
                    sections=sum(r.n_sections for r in item.source.reports), warnings=item.source.warnings)
                stem_removed = [rid for rid in removed if rid.rpartition("-r")[0] == PurePath(name).stem]
                if prev is not None and prev.sha256 == item.entry.sha256 and prev.mode == item.entry.mode \
                        and not stem_removed:
                    change.action = "unchanged"
                    changes.append(change)
                    continue
                removed = [rid for rid in removed if rid not in stem_removed]
                new_files[name] = item.entry
                before = next((s for s in old.files if s.name == name), None)
                n_old, n_new = (len(before.reports) if before else 0), len(item.source.reports)
                summary.reports_replaced += min(n_old, n_new)
                summary.reports_added += max(0, n_new - n_old)
                summary.reports_removed += max(0, n_old - n_new)
                summary.sections_added += change.sections
                summary.sections_removed += sum(r.n_sections for r in before.reports) if before else 0
                changes.append(change)
            summary.files = changes
            if all(c.action == "unchanged" for c in changes):
                summary.n_reports = len(old.reports)
                summary.version = folder.name if folder else None
                summary.seconds = round(time.perf_counter() - t0, 2)
                return summary, rejected
            writes = {name: item for name, item in prepared.items() if new_files[name] is item.entry}
            self._commit(folder, manifest, list(new_files.values()), removed, writes, summary)
        summary.seconds = round(time.perf_counter() - t0, 2)
        return summary, rejected

    def remove(self, refs: Sequence[str]) -> ChangeSummary:
        """Remove reports by id (or every report of a file, by file name). Unknown ids change nothing."""
        t0 = time.perf_counter()
        if not refs:
            raise IngestError("name the reports to remove (ids from `rag corpus`, or a file name)")
        with writer_lock(self.lib, self.wait_s):
            folder, manifest, files = _state(self.settings)
            removed = list(manifest.removed_reports) if manifest else []
            corpus = build_corpus(folder or self.settings.data_dir, files, removed)
            by_file = {s.name: s for s in corpus.files}
            targets: dict[str, set[str]] = {}
            for ref in refs:
                if ref in by_file:
                    targets.setdefault(ref, set()).update(r.id for r in by_file[ref].reports)
                    continue
                try:
                    report = corpus.resolve(ref)
                except ReportNotFound:
                    raise ReportNotFound(f"no report with id {ref!r}; `rag corpus` (or GET /v1/reports) "
                                         "lists the ids; nothing was removed") from None
                targets.setdefault(report.source_file, set()).add(report.id)
            summary = ChangeSummary(changed=True)
            keep = {f.name: f for f in files}
            for name, ids in targets.items():
                source = by_file[name]
                gone = [r for r in source.reports if r.id in ids]
                if len(gone) == len(source.reports):
                    keep.pop(name, None)  # the whole file goes (its earlier removed ids with it)
                    stem = PurePath(name).stem
                    removed = [rid for rid in removed if rid.rpartition("-r")[0] != stem]
                    action = "removed"
                else:
                    removed.extend(r.id for r in gone)
                    action = "reports removed"
                summary.files.append(FileChange(name=name, action=action, reports=[r.id for r in gone],
                                                titles=[r.title for r in gone],
                                                sections=sum(r.n_sections for r in gone)))
                summary.reports_removed += len(gone)
                summary.sections_removed += sum(r.n_sections for r in gone)
            if summary.reports_removed >= len(corpus.reports):
                raise LastReports("that would remove every report; the service needs at least one. "
                                  "Ingest the new reports first, then remove the old ones")
            self._commit(folder, manifest, list(keep.values()), sorted(set(removed)), {}, summary)
        summary.seconds = round(time.perf_counter() - t0, 2)
        return summary

    # -- the commit ----------------------------------------------------------------------------------

    def _commit(self, prev_folder: Path | None, prev: LibraryManifest | None, files: list[LibraryFile],
                removed: list[str], writes: dict[str, _Prepared], summary: ChangeSummary) -> None:
        step = self.on_step
        lib, settings = self.lib, self.settings
        # Under the writer lock every .tmp-* here is a crashed writer's garbage.
        _prune(lib, settings, live=[prev_folder.name] if prev_folder else [])
        tmp = lib / f".tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        step("folder-created")
        for f in files:
            if f.name in writes:
                write_file(tmp / f.name, writes[f.name].data)
                if writes[f.name].original is not None and f.original:
                    (tmp / "originals").mkdir(exist_ok=True)
                    write_file(tmp / f.original, writes[f.name].original or b"")
            elif prev_folder is not None:
                _link_or_copy(prev_folder / f.name, tmp / f.name)
                if f.original and (prev_folder / f.original).is_file():
                    (tmp / "originals").mkdir(exist_ok=True)
                    _link_or_copy(prev_folder / f.original, tmp / f.original)
            else:  # the first version: copies of the bundled files (never links into a git checkout)
                shutil.copy2(settings.data_dir / f.name, tmp / f.name)
                fsync_file(tmp / f.name)
        if (tmp / "originals").is_dir():
            fsync_dir(tmp / "originals")
        step("files-written")
        corpus = build_corpus(tmp, files, removed)
        _keep_parsed(files)
        step("parsed")
        model_path = settings.embedding_model_path()
        cache = EmbeddingCache(settings.cache_dir / "embeddings.sqlite")
        try:
            index = build_index(corpus, self.encoder_factory(), settings.index_dir, cache,
                                model_fingerprint(model_path), chunk_config(settings), progress=self.progress,
                                make_current=False)
        finally:
            cache.close()
        step("index-written")
        seq = (prev.seq + 1) if prev else 1
        manifest = LibraryManifest(seq=seq, created_at=time.time(), files=sorted(files, key=lambda f: f.name),
                                   removed_reports=removed, corpus_hash=corpus.content_hash,
                                   index_version=index.version, n_reports=len(corpus.reports))
        write_file(tmp / MANIFEST, manifest.model_dump_json(indent=2).encode())
        fsync_dir(tmp)
        step("manifest-written")
        name = f"c-{seq:06d}-{corpus.content_hash[:10]}"
        final = lib / name
        if final.exists():  # a crashed run got this far with the same content: its folder is complete
            shutil.rmtree(final)
        os.replace(tmp, final)
        fsync_dir(lib)
        step("renamed")
        set_current(lib, name)
        step("current-swapped")
        set_current(settings.index_dir, index.version)
        step("index-current-swapped")
        _prune(lib, settings, live=[name])
        summary.changed = True
        summary.version = name
        summary.n_reports = len(corpus.reports)
        summary.embedded = index.manifest.embedded
        served = corpus.model_copy(update={"data_dir": str(final.resolve())})
        served.hold(Lease(lib, name))  # whoever serves this version keeps it from being pruned
        self.last = CorpusVersion(served, name, index.version)
        self.last_index = index
        step("done")
