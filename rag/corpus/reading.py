"""Bytes to text: encoding detection, newline and marker normalisation, line/offset bookkeeping.

Every offset and line number in the document model refers to the *normalised source text* this module
produces: decoded (UTF-8 with or without BOM, UTF-16 with BOM, or GB18030/GBK), CRLF and CR turned into
LF, and paywall markers removed. Line numbers equal the line numbers an editor shows for the original
file, because no line is added or removed. ``source_text(path)`` returns exactly this text, so callers
can slice quotes with a paragraph's ``char_start``/``char_end``.
"""

from __future__ import annotations

import bisect
import codecs
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rag.corpus.noise import strip_paid_markers
from rag.errors import CorpusError


@dataclass(frozen=True)
class SourceText:
    name: str  # file name used in messages and as the report's source_file
    text: str  # normalised text: all offsets refer to it
    encoding: str  # "utf-8", "utf-8-sig", "utf-16", "gb18030"
    newline: str  # "LF", "CRLF", "CR", "mixed" or "none": what the file used

    @cached_property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    @cached_property
    def line_starts(self) -> list[int]:
        starts = [0]
        for i, ch in enumerate(self.text):
            if ch == "\n":
                starts.append(i + 1)
        return starts

    def line_of(self, offset: int) -> int:
        """1-based line number holding ``offset``."""
        return bisect.bisect_right(self.line_starts, offset)

    def where(self, line: int) -> str:
        return f"{self.name}:{line}"


def _line_at(data: bytes, byte_pos: int) -> int:
    return data.count(b"\n", 0, byte_pos) + 1


def decode_bytes(data: bytes, name: str) -> tuple[str, str]:
    """Decode a report file; returns (text, encoding). Raises CorpusError naming file and line."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            pos = exc.start + len(codecs.BOM_UTF8)
            raise CorpusError(
                f"{name}:{_line_at(data, pos)}: invalid UTF-8 byte in a UTF-8 (BOM) file"
            ) from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{name}: invalid UTF-16 data at byte {exc.start}") from exc
    if b"\x00" in data:
        pos = data.index(b"\x00")
        raise CorpusError(
            f"{name}:{_line_at(data, pos)}: NUL byte; this is not a text file (save reports as UTF-8 text)"
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    # A file whose first part is valid multi-byte UTF-8 is a damaged UTF-8 file, not GBK: decoding it as
    # GB18030 would "succeed" and silently produce garbage.
    if any(b >= 0x80 for b in data[: utf8_error.start]):
        line = _line_at(data, utf8_error.start)
        raise CorpusError(
            f"{name}:{line}: invalid UTF-8 byte sequence (the file is damaged or mixes encodings)"
        )
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        line = _line_at(data, exc.start)
        raise CorpusError(
            f"{name}:{line}: cannot decode the file as UTF-8 or GB18030/GBK; save it as UTF-8 text"
        ) from exc


def _newline_style(text: str) -> str:
    crlf = text.count("\r\n")
    cr = text.count("\r") - crlf
    lf = text.count("\n") - crlf
    styles = [s for s, n in (("CRLF", crlf), ("CR", cr), ("LF", lf)) if n]
    if not styles:
        return "none"
    return styles[0] if len(styles) == 1 else "mixed"


def normalise_text(text: str) -> str:
    """Newlines to LF, a stray BOM at the start removed, paywall markers removed (lines are kept)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    return strip_paid_markers(text)


def decode_source(data: bytes, name: str) -> SourceText:
    text, encoding = decode_bytes(data, name)
    return SourceText(name=name, text=normalise_text(text), encoding=encoding, newline=_newline_style(text))


def read_source(path: Path | str) -> SourceText:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path.name}: cannot read the file ({exc.strerror or exc})") from exc
    return decode_source(data, path.name)


def source_text(path: Path | str) -> str:
    """The normalised text of a report file: what every ``char_start``/``char_end`` refers to."""
    return read_source(path).text
