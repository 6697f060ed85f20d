"""Structure-aware chunks: they follow the section tree and never cross a report or a section.

A chunk is a run of whole paragraphs of one section, packed up to ``max_chars``; a paragraph longer
than that is cut at sentence ends (。！？；) or before an inline enumeration item (「二是」「三要」), and as a
last resort at a comma. Consecutive pieces of one long paragraph overlap by one sentence so that a fact
stated across the cut is whole in at least one chunk.

``text`` is the exact slice of the source (``source_text[char_start:char_end]``) so a quote can be
highlighted as it stands; ``embed_title`` and ``search_text`` carry the context (report title, issuing
body, section path) and the normalised placeholders (D建 → 党建) used for embedding and BM25.
"""

from __future__ import annotations

import itertools
import re
from typing import Literal

from pydantic import BaseModel, Field

from rag.config import ChunkConfig, Settings, tuned_config
from rag.corpus import Corpus, Report, Section, normalize_for_search, read_source
from rag.corpus.reading import SourceText
from rag.text.sentences import SENTENCE_END_RE

CHUNKER_VERSION = "3"


def chunk_config(settings: Settings) -> ChunkConfig:
    """The chunking the settings ask for (one place: the index manifest compares it to rebuild)."""
    return tuned_config(settings).chunk


class Chunk(BaseModel):
    chunk_id: str
    chunk_type: Literal["text", "outline"] = Field(
        "text", description="text: a run of a section's paragraphs; outline: the headings of a section's "
        "sub-sections, one per line (answers 「哪几方面」 questions)."
    )
    report_id: str
    report_title: str
    source_file: str
    section_id: str
    section_path: list[str]
    text: str = Field(description="Original text: source_text[char_start:char_end] for text chunks; "
                      "for outline chunks the pieces in `parts`, joined by newlines.")
    parts: list[tuple[int, int]] = Field(
        default_factory=list, description="Char spans of the source the text is made of (for highlighting)."
    )
    line_start: int
    line_end: int
    char_start: int
    char_end: int
    embed_title: str = Field(description="Context for the embedding model's title slot.")
    search_text: str = Field(description="Normalised body text for BM25 and embedding.")
    context: str = Field("", description="Normalised report header + full section path, for BM25.")
    issuing_body: str | None = None
    periods: list[str] = Field(default_factory=list)
    kind: str | None = None
    admin_level: str | None = None


# Sentence ends, and the start of an inline enumeration item (「二是」「三要」「四抓」) after a comma.
_ITEM_START = re.compile(
    r"(?<=[，,：:])(?=(?:[一二三四五六七八九十]+|[0-9]+)(?:是|要|抓|强化|加强)[^，。]{0,2})"
)
_COMMA = re.compile(r"(?<=[，,、])")


def _split_at(pattern: re.Pattern[str], text: str, start: int) -> list[tuple[int, int]]:
    cuts = [m.start() for m in pattern.finditer(text) if 0 < m.start() < len(text)]
    bounds = [0, *cuts, len(text)]
    return [(start + a, start + b) for a, b in itertools.pairwise(bounds) if b > a]


def sentence_spans(text: str, max_chars: int, min_piece: int = 40) -> list[tuple[int, int]]:
    """Spans (relative to ``text``) of sentences, each at most ``max_chars`` where possible."""
    spans: list[tuple[int, int]] = []
    for a, b in _split_at(SENTENCE_END_RE, text, 0):
        if b - a <= max_chars:
            spans.append((a, b))
            continue
        for c, d in _split_at(_ITEM_START, text[a:b], a):
            if d - c <= max_chars:
                spans.append((c, d))
                continue
            pieces = _split_at(_COMMA, text[c:d], c)
            # Pack comma pieces up to max_chars; a single over-long piece is cut hard.
            cur = pieces[0][0]
            for i, (_, pe) in enumerate(pieces):
                nxt_end = pieces[i + 1][1] if i + 1 < len(pieces) else None
                if nxt_end is None or nxt_end - cur > max_chars:
                    while pe - cur > max_chars:
                        spans.append((cur, cur + max_chars))
                        cur += max_chars
                    spans.append((cur, pe))
                    cur = pe
    # Merge crumbs (「一是加强领导。」) into the following sentence so no chunk is a fragment.
    merged: list[tuple[int, int]] = []
    for span in spans:
        if merged and merged[-1][1] - merged[-1][0] < min_piece and span[1] - merged[-1][0] <= max_chars:
            merged[-1] = (merged[-1][0], span[1])
        else:
            merged.append(span)
    return merged


def _units(section: Section, cfg: ChunkConfig) -> list[list[tuple[int, int]]]:
    """Per body paragraph, its pieces as absolute char spans."""
    out = []
    body = [p for p in section.paragraphs if p.kind != "heading"]
    for p in section.paragraphs:
        # A heading line opens its section's first chunk: 「哪几方面」 questions are answered by the
        # headings themselves, so they must be quotable. A heading with no body of its own is left to
        # its children, whose section path (context) names it.
        if p.kind == "heading" and not body:
            continue
        if len(p.text) <= cfg.max_chars:
            out.append([(p.char_start, p.char_end)])
        else:
            out.append([(p.char_start + a, p.char_start + b)
                        for a, b in sentence_spans(p.text, cfg.max_chars, cfg.min_piece)])
    return out


def _pack(paragraph_pieces: list[list[tuple[int, int]]], cfg: ChunkConfig) -> list[tuple[int, int]]:
    """Group pieces into chunk spans: whole short paragraphs together, long ones cut with overlap."""
    chunks: list[tuple[int, int]] = []
    cur: tuple[int, int] | None = None
    for pieces in paragraph_pieces:
        if len(pieces) == 1:
            a, b = pieces[0]
            if cur is not None and b - cur[0] <= cfg.max_chars:
                cur = (cur[0], b)
            else:
                if cur is not None:
                    chunks.append(cur)
                cur = (a, b)
            continue
        if cur is not None:
            chunks.append(cur)
            cur = None
        i = 0
        while i < len(pieces):
            start, end, j = pieces[i][0], pieces[i][1], i + 1
            while j < len(pieces) and pieces[j][1] - start <= cfg.max_chars:
                end = pieces[j][1]
                j += 1
            chunks.append((start, end))
            if j >= len(pieces):
                break
            i = max(i + 1, j - cfg.overlap_sentences)
    if cur is not None:
        chunks.append(cur)
    return chunks


def report_header(report: Report) -> str:
    """Report title, with the issuing body when the title does not already name it."""
    body = report.issuing_body or ""
    return report.title if not body or body in report.title else f"{report.title}（{body}）"


def _make_chunk(report: Report, section: Section, src: SourceText, parts: list[tuple[int, int]],
                n: int, chunk_type: Literal["text", "outline"] = "text") -> Chunk:
    """A chunk of ``report`` made of the source spans ``parts`` (one span for text chunks)."""
    header = report_header(report)
    path = section.path
    text = "\n".join(src.text[a:b] for a, b in parts)
    # Title slot: the report header and the nearest heading, cut short. Every title token is paid on
    # every chunk at ~470 tokens/s, so the full path goes only into the BM25 text.
    title = header + (f" > {path[-1][:20]}" if path else "")
    return Chunk(
        chunk_id=f"{report.id}-c{n:03d}", chunk_type=chunk_type,
        report_id=report.id, report_title=report.title, source_file=report.source_file,
        section_id=section.id, section_path=list(path), text=text, parts=parts,
        line_start=src.line_of(parts[0][0]), line_end=src.line_of(parts[-1][1] - 1),
        char_start=parts[0][0], char_end=parts[-1][1],
        embed_title=normalize_for_search(title), search_text=normalize_for_search(text),
        context=normalize_for_search(" ".join([header, *path])),
        issuing_body=report.issuing_body, periods=list(report.periods),
        kind=report.kind, admin_level=report.admin_level,
    )


def chunk_report(report: Report, src: SourceText, cfg: ChunkConfig) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in report.iter_sections():
        for a, b in _pack(_units(section, cfg), cfg):
            chunks.append(_make_chunk(report, section, src, [(a, b)], len(chunks) + 1))
    return chunks


OUTLINE_PIECE_MAX = 50


def heading_span(section: Section) -> tuple[int, int] | None:
    """Span of a section's heading as it stands in the source (a run-in heading: its first sentence)."""
    first = section.paragraphs[0] if section.paragraphs else None
    if first is None or first.kind not in ("heading", "run_in"):
        return None
    text = first.text
    end = text.find("。")
    n = end + 1 if 0 <= end < OUTLINE_PIECE_MAX else min(len(text), OUTLINE_PIECE_MAX)
    return first.char_start, first.char_start + n


def outline_chunks(report: Report, src: SourceText, cfg: ChunkConfig, start: int) -> list[Chunk]:
    """One chunk per section with two or more sub-sections: their headings, one per line.

    「重点做好哪几方面工作」 is answered by a report's or section's headings, which no body chunk holds
    together. Each line is a verbatim prefix of its source line, so it can be quoted and highlighted.
    """
    out: list[Chunk] = []
    for section in report.iter_sections():
        pieces = [p for p in (heading_span(c) for c in section.children) if p is not None]
        if len(pieces) < 2:
            continue
        kept: list[tuple[int, int]] = []
        size = 0
        for a, b in pieces:
            if size + (b - a) > cfg.max_chars and kept:
                break
            kept.append((a, b))
            size += b - a + 1
        out.append(_make_chunk(report, section, src, kept, start + len(out) + 1, chunk_type="outline"))
    return out


def chunk_corpus(corpus: Corpus, cfg: ChunkConfig | None = None) -> list[Chunk]:
    cfg = cfg or ChunkConfig()
    out: list[Chunk] = []
    for source in corpus.files:
        if not source.reports:
            continue
        src = read_source(corpus.source_path(source.reports[0]))
        for report in source.reports:
            body = chunk_report(report, src, cfg)
            out.extend(body)
            out.extend(outline_chunks(report, src, cfg, start=len(body)))
    return out


def fixed_chunks(corpus: Corpus, size: int = 400) -> list[Chunk]:
    """The naive baseline: fixed windows over each file, blind to reports and sections."""
    out: list[Chunk] = []
    for source in corpus.files:
        if not source.reports:
            continue
        src = read_source(corpus.source_path(source.reports[0]))
        text = src.text
        stem = source.name.rsplit(".", 1)[0]
        for n, a in enumerate(range(0, len(text), size), start=1):
            raw = text[a : a + size]
            if not raw.strip():
                continue
            out.append(Chunk(
                chunk_id=f"{stem}-f{n:04d}", report_id="", report_title="", source_file=source.name,
                section_id=f"{stem}-f{n:04d}", section_path=[], text=raw,
                line_start=src.line_of(a), line_end=src.line_of(a + len(raw) - 1),
                char_start=a, char_end=a + len(raw), embed_title="none",
                search_text=normalize_for_search(raw),
            ))
    return out
