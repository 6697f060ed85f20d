"""Where Chinese sentences and clauses end. Every splitter of the project cuts at these marks."""

from __future__ import annotations

import itertools
import re

SENTENCE_STOPS = "。！？；!?;"  # full stops, and the semicolons that end items of a list
CLAUSE_STOPS = "，,；;。！？!?"

# Zero-width: a split keeps the mark with the text before it.
SENTENCE_END_RE = re.compile(rf"(?<=[{SENTENCE_STOPS}])")
SENTENCE_OR_LINE_END_RE = re.compile(rf"(?<=[{SENTENCE_STOPS}\n])")
CLAUSE_END_RE = re.compile(rf"(?<=[{CLAUSE_STOPS}\n])")


def sentence_bounds(text: str) -> list[int]:
    """0, every sentence or line end, len(text): consecutive pairs are the sentences (marks kept)."""
    return [0, *(m.start() for m in SENTENCE_OR_LINE_END_RE.finditer(text)), len(text)]


def passage_sentences(text: str, offset: int) -> list[tuple[int, int]]:
    """Absolute spans of the sentences of a passage starting at ``offset`` (whitespace trimmed)."""
    spans = []
    for a, b in itertools.pairwise(sentence_bounds(text)):
        piece = text[a:b]
        if not piece.strip():
            continue
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece) - len(piece.rstrip())
        spans.append((offset + a + lead, offset + b - trail))
    return spans


def sentences(text: str) -> list[str]:
    """The sentences (and lines) of ``text``, marks kept, blank ones left out."""
    bounds = sentence_bounds(text)
    return [text[a:b] for a, b in itertools.pairwise(bounds) if text[a:b].strip()]
