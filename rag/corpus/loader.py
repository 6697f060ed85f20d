"""Load every report file in the data folder into a ``Corpus``."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rag.corpus.models import Corpus, SourceFile
from rag.corpus.parser import PARSER_VERSION, parse_file
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
    return assemble_corpus(data_dir, [parse_file(path) for path in paths])


def assemble_corpus(data_dir: Path | str, files: list[SourceFile]) -> Corpus:
    """A ``Corpus`` of already parsed files (``rag eval --skip-bad`` leaves out the files it refused)."""
    digest = hashlib.sha256(f"parser {PARSER_VERSION}\n".encode())
    for source in files:
        digest.update(f"{source.name}\0{source.sha256}\n".encode())
    return Corpus(
        data_dir=str(Path(data_dir).resolve()),
        parser_version=PARSER_VERSION,
        content_hash=digest.hexdigest(),
        files=files,
    )
