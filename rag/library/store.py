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
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePath

from tqdm import tqdm

from embeddings.cache import EmbeddingCache
from rag.config import Settings
from rag.corpus.loader import corpus_files
from rag.corpus.segment import SegmentMode
from rag.errors import CorpusError, ReportNotFound
from rag.library.changes import (
    ChangeSummary,
    FileChange,
    FileExists,
    LastReports,
    LibraryBusy,
    rejected_error,
)
from rag.library.uploads import IngestError, Prepared, Upload, prepare
from rag.library.versions import (
    MANIFEST,
    CorpusVersion,
    LibraryFile,
    LibraryManifest,
    build_corpus,
    current_library,
    keep_parsed,
    read_manifest,
)
from rag.retrieval.chunking import chunk_config
from rag.retrieval.index import SearchIndex, build_index
from rag.retrieval.index import prune as prune_index
from rag.storage import Lease, fsync_dir, fsync_file, prune_versions, set_current, write_file

KEEP_VERSIONS = 3

# Called with the name of each step (progress, crash tests): "prepared" when an ingest has read and parsed
# every upload (``Library.found`` names what they hold; before the writer lock), then the commit's steps.
Step = Callable[[str], None]


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
            named.add(read_manifest(lib, name).index_version or "")
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
        self.last_index: SearchIndex | None = None
        self.found: dict[str, list[str]] = {}  # file name -> titles of its reports, from the last ingest

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
        prepared: dict[str, Prepared] = {}
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
        self.found = {name: [r.title for r in item.source.reports] for name, item in prepared.items()}
        self.on_step("prepared")
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
                removed: list[str], writes: dict[str, Prepared], summary: ChangeSummary) -> None:
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
        keep_parsed(files)
        step("parsed")
        cache = EmbeddingCache(settings.cache_dir / "embeddings.sqlite")
        try:
            index = build_index(corpus, self.encoder_factory(), settings.index_dir, cache,
                                settings.embedding_model_id(), chunk_config(settings), progress=self.progress,
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
        assert index.version is not None  # build_index saved it as a version folder of that name
        set_current(settings.index_dir, index.version)
        step("index-current-swapped")
        _prune(lib, settings, live=[name])
        summary.changed = True
        summary.version = name
        summary.n_reports = len(corpus.reports)
        summary.embedded = index.manifest.embedded + index.manifest.embedded_sentences
        served = corpus.model_copy(update={"data_dir": str(final.resolve())})
        served.hold(Lease(lib, name))  # whoever serves this version keeps it from being pruned
        self.last = CorpusVersion(served, name, index.version)
        self.last_index = index
        step("done")
