"""Evidence selection: from retrieved hits to a few compact, numbered, verbatim passages.

On 2 CPU cores the prompt length *is* the latency (~200 prompt tokens/s for the 0.5B model, ~0.6 tokens
per Chinese character), so the model gets only the sentences of each hit that bear on the question,
not whole chunks. Each passage is a contiguous run of sentences of one hit, so its quote is a verbatim
slice of the source file that the web client can highlight.

Sentence relevance is rag/text/bigrams.py's IDF-weighted overlap of character bigrams with the question.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.config import DEFAULTS, AnswerConfig
from rag.contracts import Evidence
from rag.corpus import Corpus, Section, read_source
from rag.corpus.reading import SourceText
from rag.errors import RagError
from rag.retrieval.chunking import Chunk, heading_span
from rag.retrieval.retriever import Hit
from rag.text.bigrams import BigramIdf, bigrams, query_grams, relevance
from rag.text.sentences import sentence_bounds

__all__ = ["BigramIdf", "EvidenceSelector", "bigrams", "query_grams", "relevance"]



# The probability that the sentence at [start, end) of a source file answers the question (judge.py).
SpanScore = Callable[[str, int, int], float]


@dataclass(frozen=True)
class _Unit:
    start: int  # absolute char offsets in the source
    end: int
    text: str
    score: float


def _units(hit: Hit, q: dict[str, float]) -> list[_Unit]:
    """Sentences of a text hit (lines of an outline hit), with absolute offsets and relevance."""
    units = []
    if hit.chunk_type == "outline" and hit.parts:
        pieces = []
        offset = 0
        for a, b in hit.parts:
            pieces.append((a, b, hit.text[offset : offset + (b - a)]))
            offset += b - a + 1
    else:
        bounds = sentence_bounds(hit.text)
        pieces = [(hit.char_start + a, hit.char_start + b, hit.text[a:b])
                  for a, b in itertools.pairwise(bounds) if hit.text[a:b].strip()]
    for a, b, text in pieces:
        # trim whitespace so quotes start and end on text
        lead = len(text) - len(text.lstrip())
        trail = len(text) - len(text.rstrip())
        if b - a - lead - trail <= 0:
            continue
        clean = text.strip()
        units.append(_Unit(a + lead, b - trail, clean, relevance(q, clean)))
    return units


def _best(units: list[_Unit]) -> int:
    """Index of the most relevant unit (the first, on a tie)."""
    return max(range(len(units)), key=lambda i: (units[i].score, -i))


def _window(units: list[_Unit], max_chars: int, seed: tuple[int, int] | None = None) -> list[_Unit]:
    """The contiguous run of units around the best one (or the run ``seed``, first and last index) that
    holds the relevant units, within max_chars."""
    if not units:
        return []
    if seed is None:
        best = _best(units)
        seed = (best, best)
    lo, hi = seed
    size = sum(len(u.text) for u in units[lo : hi + 1])
    # grow towards whichever neighbour is more relevant, while the budget allows
    while True:
        left = units[lo - 1] if lo > 0 else None
        right = units[hi + 1] if hi + 1 < len(units) else None
        options = [(u.score, side) for u, side in ((left, -1), (right, 1)) if u is not None
                   and size + len(u.text) <= max_chars]
        if not options:
            break
        score, side = max(options)
        # Stop when the neighbours say nothing about the question and the passage is already substantial.
        if score <= 0 and size >= max_chars // 2:
            break
        if side < 0:
            lo -= 1
            size += len(units[lo].text)
        else:
            hi += 1
            size += len(units[hi].text)
    return units[lo : hi + 1]


def whole_passage(item: Hit | Chunk, n: int, score: float) -> Evidence:
    """A text hit or chunk as one passage, verbatim and whole (tables: no prompt to keep short)."""
    return Evidence(id=n, chunk_id=item.chunk_id, report_id=item.report_id, report_title=item.report_title,
                    source_file=item.source_file, section_id=item.section_id, section_path=item.section_path,
                    text=item.text, score=round(score, 4), line_start=item.line_start, line_end=item.line_end,
                    char_start=item.char_start, char_end=item.char_end)


class EvidenceSelector:
    """Cuts hits down to numbered passages under a character budget."""

    def __init__(self, corpus: Corpus, idf: BigramIdf, config: AnswerConfig = DEFAULTS.answer):
        self.corpus = corpus
        self.idf = idf
        self.config = config
        self._source = lru_cache(maxsize=64)(self._read)

    def _read(self, source_file: str) -> SourceText:
        return read_source(Path(self.corpus.data_dir) / source_file)

    def _outline(self, hits: Sequence[Hit], size: int | None = None) -> list[Evidence]:
        """The sub-section headings of the section the best hits are about, one Evidence per heading.

        「重点做好哪几方面工作」「哪四个‘超前’」 are answered by a section's sub-headings, which no single
        passage holds. The section is that of the best of the top three hits that has two or more
        sub-sections — the hit's own section, or its parent when the hit sits in one of the items.
        """
        for hit in hits[:3]:
            try:
                report, section = self.corpus.find_section(hit.section_id)
            except RagError:  # a hit from another corpus (tests): no outline
                continue
            candidates: list[Section] = [section]
            parent_id = section.id.rpartition(".")[0]
            if parent_id and parent_id != section.id and "-s" in parent_id:
                with contextlib.suppress(RagError):
                    candidates.append(report.section(parent_id))
            for sec in candidates:
                spans = [(c, sp) for c in sec.children if (sp := heading_span(c)) is not None]
                # 「哪四个‘超前’」 is not answered by a section of five or ten sub-headings
                if len(spans) < 2 or (size is not None and len(spans) != size):
                    continue
                src = self._source(report.source_file)
                return [Evidence(
                    id=0, chunk_id=hit.chunk_id, kind="heading", report_id=report.id,
                    report_title=report.title, source_file=report.source_file, section_id=c.id,
                    section_path=list(c.path), text=src.text[a:b], score=hit.score,
                    line_start=src.line_of(a), line_end=src.line_of(b - 1), char_start=a, char_end=b,
                ) for c, (a, b) in spans[: self.config.outline_max]]
        return []

    def select(self, question: str, hits: Sequence[Hit], diversify: bool = False,
               enumeration: bool = False, enumeration_size: int | None = None,
               judged: SpanScore | None = None) -> list[Evidence]:
        """Passages for ``question`` from ``hits`` (best first), numbered from 1.

        With ``diversify`` (comparisons, 「哪些单位」 questions) hits are taken round-robin across reports
        so that every body the question involves is represented before any gets a second passage.
        With ``enumeration`` the sub-headings of the section the question is about come first (only a
        section with ``enumeration_size`` of them, when the question says how many items it asks for).
        With ``judged`` (the evidence judge's probability of a span, judge.py) the hits holding the best
        judged sentences come first and each passage is cut around its best judged sentence: a paraphrase
        (「判了几年」 for 「判处有期徒刑五年」) shares few bigrams with its answer.
        """
        q = query_grams(question, self.idf)
        ordered = _round_robin(hits) if diversify else list(hits)
        if judged is not None and not diversify:
            ordered.sort(key=lambda h: -judged(h.source_file, h.char_start, h.char_end))
        out: list[Evidence] = []
        used = 0
        if enumeration:
            for e in self._outline(hits, enumeration_size):
                out.append(e.model_copy(update={"id": len(out) + 1}))
                used += len(e.text)
        n_headings = len(out)
        for hit in ordered:
            if len(out) - n_headings >= self.config.max_passages or used >= self.config.budget_chars:
                break
            cap = min(self.config.passage_chars, self.config.budget_chars - used)
            if cap < 40:
                break
            units = _units(hit, q)
            if hit.chunk_type == "outline":
                # An outline's headings lie pages apart in the source and a passage is one contiguous
                # slice: it holds the best heading alone (「哪几方面」 questions get them all, as headings).
                window = [units[_best(units)]] if units else []
            elif judged is not None and units:
                best = max(range(len(units)), key=lambda i: (judged(hit.source_file, units[i].start,
                                                                     units[i].end), units[i].score, -i))
                window = _window(units, cap, seed=(best, best))
            else:
                window = _window(units, cap)
            if not window:
                continue
            start, end = window[0].start, window[-1].end
            # the same sentences reached through another chunk (an outline, an overlap) are not repeated
            if any(e.source_file == hit.source_file and start < e.char_end and e.char_start < end
                   for e in out):
                continue
            src = self._source(hit.source_file)
            text = src.text[start:end]
            used += len(text)
            out.append(Evidence(
                id=len(out) + 1, chunk_id=hit.chunk_id, report_id=hit.report_id,
                report_title=hit.report_title, source_file=hit.source_file, section_id=hit.section_id,
                section_path=hit.section_path, text=text, score=hit.score,
                line_start=src.line_of(start), line_end=src.line_of(end - 1), char_start=start, char_end=end,
            ))
        return out


def _round_robin(hits: Sequence[Hit]) -> list[Hit]:
    by_report: dict[str, list[Hit]] = {}
    for h in hits:
        by_report.setdefault(h.report_id, []).append(h)
    out: list[Hit] = []
    queues = list(by_report.values())
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out
