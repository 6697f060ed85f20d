"""Load every report file in the data folder into a ``Corpus``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from rag.corpus.models import Corpus, SourceFile
from rag.corpus.parser import PARSER_VERSION, name_parts, parse_file
from rag.errors import CorpusError

REPORT_SUFFIXES = (".txt",)


def corpus_files(data_dir: Path | str) -> list[Path]:
    """Report files in name order (the order reports are listed in)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise CorpusError(f"{data_dir}: the data folder does not exist; set RAG_DATA_DIR or create it")
    return sorted(
        (p for p in data_dir.iterdir() if p.is_file() and p.suffix.lower() in REPORT_SUFFIXES),
        key=lambda p: p.name,
    )


def load_corpus(data_dir: Path | str) -> Corpus:
    paths = corpus_files(data_dir)
    if not paths:
        raise CorpusError(f"{data_dir}: no .txt report files in the data folder")
    return assemble_corpus(data_dir, [parse_corpus_file(p) for p in paths])


def parse_corpus_file(path: Path) -> SourceFile:
    """A report file of a corpus folder. One with no title line at all is one document filed under its
    name, as uploads are (「med_140_霜叶市第一人民医院_喻某某.txt」 → 「霜叶市第一人民医院 喻某某」)."""
    return parse_file(path, fallback_title=" ".join(name_parts(path.name)) or path.stem)


def corpus_hash(files: Iterable[tuple[str, str, str | None]], removed: Iterable[str] = ()) -> str:
    """The one definition of a corpus's content hash: the parser version, each file's name and sha256
    (with a note when something else decides its reports: the library's parse mode and origin), and the
    report ids removed. Plain files hash alike wherever they are loaded from, so an index built from
    ``data_dir`` serves the library's first version."""
    digest = hashlib.sha256(f"parser {PARSER_VERSION}\n".encode())
    for name, sha256, note in files:
        digest.update(f"{name}\0{sha256}\n".encode())
        if note:
            digest.update(f"{note}\n".encode())
    for rid in removed:
        digest.update(f"removed {rid}\n".encode())
    return digest.hexdigest()


def assemble_corpus(data_dir: Path | str, files: list[SourceFile]) -> Corpus:
    """A ``Corpus`` of already parsed files (``rag eval --skip-bad`` leaves out the files it refused)."""
    return Corpus(
        data_dir=str(Path(data_dir).resolve()),
        parser_version=PARSER_VERSION,
        content_hash=corpus_hash((source.name, source.sha256, None) for source in files),
        files=files,
    )
