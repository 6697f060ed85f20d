"""The corpus: report files parsed into reports with a section tree, for citing report and section.

Public API (import from here):
    load_corpus(data_dir) -> Corpus       every .txt file in name order
    Corpus.reports / get(id) / resolve(ref) / find_section(section_id) / content_hash / warnings
    Report, Section, Paragraph, SourceFile, TocEntry   pydantic models
    parse_file(path) / parse_bytes(data, name) -> SourceFile
    source_text(path) -> str              the text that char_start/char_end refer to
    normalize_for_search(text) -> str     placeholders restored (D建 → 党建, AAA公众号 → 微信公众号)
"""

from rag.corpus.loader import load_corpus
from rag.corpus.models import Corpus, Paragraph, Report, Section, SourceFile, TocEntry
from rag.corpus.parser import PARSER_VERSION, parse_bytes, parse_file, report_id
from rag.corpus.reading import read_source, source_text
from rag.text.normalize import normalize_for_search

__all__ = [
    "PARSER_VERSION",
    "Corpus",
    "Paragraph",
    "Report",
    "Section",
    "SourceFile",
    "TocEntry",
    "load_corpus",
    "normalize_for_search",
    "parse_bytes",
    "parse_file",
    "read_source",
    "report_id",
    "source_text",
]
