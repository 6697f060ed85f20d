"""What a library version is (its manifest) and how readers open one: the live corpus, leased.

The layout and the commit protocol are described in ``rag/library/store.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Literal

from pydantic import BaseModel, Field

from rag.config import Settings
from rag.corpus import PARSER_VERSION, Corpus, SourceFile, load_corpus, parse_bytes
from rag.corpus.loader import corpus_hash
from rag.corpus.segment import SegmentMode
from rag.errors import CorpusError
from rag.storage import Lease

FORMAT = 1
MANIFEST = "library.json"


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



# -- reading ---------------------------------------------------------------------------------------


def current_name(lib: Path) -> str | None:
    try:
        name = (lib / "CURRENT").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not name or name.startswith(".") or "/" in name:
        raise CorpusError(f"{lib / 'CURRENT'} is damaged; write the name of a c-* folder into it")
    return name


def read_manifest(lib: Path, name: str) -> LibraryManifest:
    folder = lib / name
    try:
        return LibraryManifest.model_validate_json((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(f"library version {folder} is unreadable ({exc}); point {lib / 'CURRENT'} at the "
                          "previous c-* folder") from exc


def current_library(lib: Path) -> tuple[Path, LibraryManifest] | None:
    """The live version folder and its manifest, or None when nothing was ever ingested."""
    name = current_name(lib)
    return None if name is None else (lib / name, read_manifest(lib, name))


# Parsed files, by what decides the parse. A commit parses the old and the new version, and every commit


# parses every file; without this, one large file makes every later upload or delete pay for it again.
# Holds the files of the version last committed or opened (plus uploads being prepared): one corpus.
_ParseKey = tuple[str, str, str, str, str]
_parsed: dict[_ParseKey, SourceFile] = {}
_parsed_lock = threading.Lock()


def _parse_key(f: LibraryFile) -> _ParseKey:
    return (f.name, f.sha256, f.mode, f.origin, PARSER_VERSION)


def keep_parsed(files: Sequence[LibraryFile]) -> None:
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



def remember_parsed(entry: LibraryFile, source: SourceFile) -> None:
    """An upload parsed while it was checked: the commit that stores it need not parse it again."""
    with _parsed_lock:
        _parsed[_parse_key(entry)] = source


def forget_parsed() -> None:
    """Empty the parse cache (bench/commit_cost.py measures what it saves)."""
    with _parsed_lock:
        _parsed.clear()


def library_hash(files: Sequence[LibraryFile], removed: Sequence[str]) -> str:
    """``corpus_hash`` of a library version: a non-default mode or an ingested origin is noted per file."""
    notes = [(f.name, f.sha256, f"mode {f.mode} {f.origin}" if f.mode != "auto" or f.origin == "ingested"
              else None) for f in sorted(files, key=lambda f: f.name)]
    return corpus_hash(notes, sorted(removed))


def build_corpus(folder: Path, files: Sequence[LibraryFile], removed: Sequence[str]) -> Corpus:
    gone = set(removed)
    sources = []
    for f in sorted(files, key=lambda f: f.name):
        source = _parse_entry(folder, f)
        if gone:
            source.reports = [r for r in source.reports if r.id not in gone]
        sources.append(source)
    return Corpus(data_dir=str(folder.resolve()), parser_version=PARSER_VERSION,
                  content_hash=library_hash(files, removed), files=sources)


def open_corpus(settings: Settings) -> CorpusVersion:
    """The live corpus: the library's current version if there is one, else the plain ``data_dir``.

    The version is leased (``rag.storage.Lease``, held by the corpus) before it is read, so no writer
    prunes it while this corpus is in use; if it was pruned just before (several commits between reading
    ``CURRENT`` and taking the lease), ``CURRENT`` is read again."""
    lib = settings.library_path()
    for _ in range(5):
        name = current_name(lib)
        if name is None:
            return CorpusVersion(load_corpus(settings.data_dir))
        lease = Lease(lib, name)
        if not (lib / name / MANIFEST).is_file():
            lease.release()
            continue
        manifest = read_manifest(lib, name)
        corpus = build_corpus(lib / name, manifest.files, manifest.removed_reports)
        keep_parsed(manifest.files)
        corpus.hold(lease)
        return CorpusVersion(corpus, name, manifest.index_version)
    raise CorpusError(f"the library in {lib} changed five times while it was being read; retry")


def live_version(settings: Settings) -> str | None:
    """Name of the live library version (cheap: one small file), for noticing another process's ingest."""
    try:
        return (settings.library_path() / "CURRENT").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
