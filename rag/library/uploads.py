"""What a user's file must pass before it may enter the library: a clean name and bounded content.

Everything here runs before anything is written, on bytes already bounded by ``ingest_max_bytes``. A .docx
is a zip of XML, so its *uncompressed* size is what costs memory and time: a 59 KB file can hold 40 MB of
XML. The text is therefore pulled out by a streaming parser (expat) from the one part that holds it, and
every budget — entries, compression ratio, XML bytes, elements, extracted text — is checked while reading,
so a bomb is refused after at most ``max_bytes`` of XML, in bounded memory.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePath
from xml.parsers import expat

from pydantic import BaseModel, Field

from rag.corpus import SourceFile, parse_bytes
from rag.corpus.segment import SegmentMode
from rag.errors import CorpusError
from rag.library.versions import LibraryFile, remember_parsed


class IngestError(CorpusError):
    """One or more input files were rejected; the message lists each with the reason. Nothing changed."""


class IngestTooLarge(IngestError):
    """A file, or the text or XML inside it, is over the per-file limit."""

    http_status = 413


TEXT_SUFFIXES = (".txt",)
DOCX_SUFFIXES = (".docx",)
INGEST_SUFFIXES = TEXT_SUFFIXES + DOCX_SUFFIXES

# A name becomes a file on disk (ext4, most others: 255 *bytes*) and the stem of report ids in URLs.
# 200 bytes leaves room for the stored ".txt" and is about 66 Chinese characters.
MAX_NAME_BYTES = 200
# Characters a name may not hold: path syntax and characters Windows refuses …
_FORBIDDEN = set('/\\:*?"<>|')
# … and every Unicode control (Cc: NUL, DEL, C1), format (Cf: bidi overrides, zero-width, BOM), line and
# paragraph separator (Zl, Zp), surrogate, private-use or unassigned code point: they hide or reorder
# what the name shows in a listing.
_BAD_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}

# .docx budgets. The text must fit the per-file limit (ingest_max_bytes), like a .txt; its XML may be a few
# times larger (markup around every run of text: 3–5× in Word's output).
DOCX_XML_FACTOR = 4
DOCX_MAX_ENTRIES = 2000  # a long report with images has a few hundred parts
DOCX_MAX_RATIO = 100  # real document.xml compresses 5–30×; bombs 500× and more
DOCX_RATIO_FLOOR = 1_000_000  # small parts may compress better than the ratio; they cost nothing
DOCX_MAX_ELEMENTS = 3_000_000  # a 300-page report has ~10⁶ XML elements
_READ_CHUNK = 64 * 1024

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_REL_DOC = "/officeDocument"  # relationship type suffix of the main document part


def _bad_char(c: str) -> bool:
    return c in _FORBIDDEN or unicodedata.category(c) in _BAD_CATEGORIES


def clean_name(name: str) -> str:
    """The name with bad characters removed (a suggestion for the user, never applied silently)."""
    # The result is at most MAX_NAME_BYTES: a few times that many characters of the name are enough to
    # look at, however long the name sent.
    cleaned = "".join(c for c in name[: 8 * MAX_NAME_BYTES] if not _bad_char(c)).strip().lstrip(".")
    if len(cleaned.encode("utf-8")) <= MAX_NAME_BYTES:
        return cleaned
    suffix = PurePath(cleaned).suffix
    suffix = suffix if len(suffix) <= 10 else ""
    budget = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    stem = cleaned[: len(cleaned) - len(suffix)].encode("utf-8")[:budget].decode("utf-8", "ignore")
    return stem + suffix


def check_name(name: str) -> str:
    """A safe file name: no folders or traversal, no hidden or control characters, at most
    ``MAX_NAME_BYTES`` in UTF-8, a known suffix. Raises IngestError naming what to change."""
    shown = ascii(name) if any(_bad_char(c) for c in name) else repr(name)
    suggestion = clean_name(PurePath(name.replace("\\", "/")).name) if name else ""
    hint = f", e.g. {suggestion}" if suggestion and suggestion != name and "." in suggestion else \
        ", e.g. 县水利局2024年工作总结.txt"
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith(".") \
            or name != name.strip():
        raise IngestError(f"{shown}: not a plain file name (no folders, '..', leading dot or surrounding "
                          f"spaces); rename the file{hint}")
    bad = sorted({f"U+{ord(c):04X}" for c in name if _bad_char(c)})
    if bad:
        raise IngestError(f"{shown}: the name holds characters that are not allowed in report file names "
                          f"({', '.join(bad[:5])}: controls, bidi or zero-width marks, line separators, or "
                          f"one of {''.join(sorted(_FORBIDDEN))}); rename the file{hint}")
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise IngestError(f"{name[:20]}…: the name is {size} bytes in UTF-8 ({len(name)} characters); the "
                          f"limit is {MAX_NAME_BYTES} bytes (about {MAX_NAME_BYTES // 3} Chinese "
                          "characters); "
                          f"shorten it{hint}")
    if PurePath(name).suffix.lower() not in INGEST_SUFFIXES:
        raise IngestError(f"{name}: only .txt (UTF-8 or GB18030/GBK) and .docx files can be ingested")
    return name


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1_000_000 else f"{n / 1e3:.1f} KB" if n >= 1000 else f"{n} bytes"


def too_big(name: str, size: int | None, max_bytes: int, what: str = "the file") -> IngestTooLarge:
    """``size`` None: the limit was passed while reading, the whole size is not known."""
    amount = f"{what} is {_size(size)}, over" if size is not None else f"{what} is over"
    return IngestTooLarge(f"{name}: {amount} the {_size(max_bytes)} limit for one report file (setting "
                          "RAG_INGEST_MAX_BYTES); split it or raise the limit")


# -- .docx ----------------------------------------------------------------------------------------------


def _unreadable(name: str, why: object) -> IngestError:
    return IngestError(f"{name}: not a readable .docx file ({why}); save it again from Word or WPS, or as "
                       "UTF-8 text")


def _main_part(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    """The main document part, as the package relationships name it (usually word/document.xml)."""
    target = "word/document.xml"
    try:
        rels = archive.getinfo("_rels/.rels")
        if rels.file_size <= 1_000_000:
            parser = expat.ParserCreate(namespace_separator=" ")
            found: list[str] = []

            def start(tag: str, attrs: dict[str, str]) -> None:
                if tag.endswith("Relationship") and attrs.get("Type", "").endswith(_REL_DOC):
                    found.append(attrs.get("Target", ""))

            parser.StartElementHandler = start
            parser.StartDoctypeDeclHandler = _no_doctype
            parser.Parse(archive.read(rels), True)
            if found and found[0]:
                target = found[0].lstrip("/")
    except (KeyError, expat.ExpatError, zipfile.BadZipFile, ValueError):
        pass  # fall back to the usual name; a missing part is reported below
    try:
        return archive.getinfo(target)
    except KeyError:
        raise _unreadable(name, f"no main document part {target}") from None


def _no_doctype(*_args: object) -> None:
    # OOXML parts never have a DTD; refusing one rules out entity expansion ("billion laughs") at the root.
    raise ValueError("the XML declares a DTD")


class _TextCollector:
    """expat handlers that keep paragraph text (w:t, w:tab, w:br) in document order; a table row becomes
    one line with its cells separated by tabs."""

    def __init__(self, name: str, max_bytes: int):
        self.name, self.max_bytes = name, max_bytes
        self.lines: list[str] = []
        self.size = 0  # UTF-8 bytes of text collected
        self.elements = 0
        self._para: list[str] = []
        self._in_text = 0
        self._tables = 0  # nesting depth of w:tbl
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def start(self, tag: str, _attrs: object) -> None:
        self.elements += 1
        if self.elements > DOCX_MAX_ELEMENTS:
            raise IngestTooLarge(f"{self.name}: the document has more than {DOCX_MAX_ELEMENTS:,} XML "
                                 "elements; split it or save it as UTF-8 text")
        ns, _, local = tag.rpartition(" ")
        if ns != _W:
            return
        if local == "t":
            self._in_text += 1
        elif local == "tab":
            self._add("\t")
        elif local in ("br", "cr"):
            self._add("\n")
        elif local == "tbl":
            self._tables += 1
        elif local == "tr" and self._tables == 1:
            self._row = []
        elif local == "tc" and self._tables == 1:
            self._cell = []

    def end(self, tag: str) -> None:
        ns, _, local = tag.rpartition(" ")
        if ns != _W:
            return
        if local == "t":
            self._in_text -= 1
        elif local == "p":
            text = "".join(self._para)
            self._para = []
            if self._cell is not None:
                self._cell.append(text)
            elif self._tables == 0:
                self.lines.append(text)
        elif local == "tc" and self._tables == 1 and self._cell is not None and self._row is not None:
            self._row.append(" ".join(t for t in self._cell if t))
            self._cell = None
        elif local == "tr" and self._tables == 1 and self._row is not None:
            self.lines.append("\t".join(self._row))
            self._row = None
        elif local == "tbl":
            self._tables -= 1

    def chars(self, data: str) -> None:
        if self._in_text:
            self._add(data)

    def _add(self, text: str) -> None:
        self.size += len(text.encode("utf-8"))
        if self.size > self.max_bytes:
            raise too_big(self.name, None, self.max_bytes, "the text inside")
        self._para.append(text)


def docx_text(data: bytes, name: str, max_bytes: int) -> str:
    """The text of a .docx: body paragraphs one per line, table rows one per line (cells tab-separated),
    in document order. Raises IngestTooLarge when the text passes ``max_bytes`` or the XML read passes
    ``DOCX_XML_FACTOR × max_bytes`` (or the archive looks like a bomb), IngestError when it is not a
    readable .docx."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _unreadable(name, exc) from exc
    with archive:
        entries = archive.infolist()
        if len(entries) > DOCX_MAX_ENTRIES:
            raise IngestTooLarge(f"{name}: the .docx holds {len(entries):,} parts (limit "
                                 f"{DOCX_MAX_ENTRIES:,}); save it again from Word or WPS, or as UTF-8 text")
        part = _main_part(archive, name)
        max_xml = DOCX_XML_FACTOR * max_bytes
        if part.file_size > max_xml:
            raise too_big(name, part.file_size, max_xml, "its document XML unpacked")
        if part.file_size > DOCX_RATIO_FLOOR and part.file_size > DOCX_MAX_RATIO * max(part.compress_size, 1):
            ratio = part.file_size // max(part.compress_size, 1)
            raise IngestTooLarge(f"{name}: its document XML unpacks {ratio}× "
                                 f"(limit {DOCX_MAX_RATIO}×), which no real report does; save it again from "
                                 "Word or WPS, or as UTF-8 text")
        collector = _TextCollector(name, max_bytes)
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.StartElementHandler = collector.start
        parser.EndElementHandler = collector.end
        parser.CharacterDataHandler = collector.chars
        parser.StartDoctypeDeclHandler = _no_doctype
        parser.EntityDeclHandler = _no_doctype
        parser.buffer_text = True
        read = 0
        try:
            with archive.open(part) as stream:
                while chunk := stream.read(_READ_CHUNK):
                    read += len(chunk)
                    if read > max_xml:  # the declared size lied
                        raise too_big(name, None, max_xml, "its document XML unpacked")
                    parser.Parse(chunk, False)
                parser.Parse(b"", True)
        except expat.ExpatError as exc:
            raise IngestError(f"{name}: the document XML is malformed (line {exc.lineno}, column "
                              f"{exc.offset}: {expat.ErrorString(exc.code)}); save it again from Word or "
                              "WPS, or as UTF-8 text") from None
        except ValueError as exc:
            raise _unreadable(name, exc) from None
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            raise _unreadable(name, exc) from None
    return "\n".join(collector.lines) + "\n"


# -- input -----------------------------------------------------------------------------------------


class Upload(BaseModel):
    """One file to ingest: its name (decides the report ids) and bytes."""

    name: str
    data: bytes = Field(repr=False)
    source: str | None = None


@dataclass
class Prepared:
    entry: LibraryFile
    data: bytes  # what is stored under entry.name (UTF-8 text for a .docx)
    original: bytes | None
    source: SourceFile


def prepare(upload: Upload, mode: SegmentMode, max_bytes: int) -> Prepared:
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
    remember_parsed(entry, source)  # the commit parses the new version: this file is parsed already
    return Prepared(entry, data, original, source)


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
