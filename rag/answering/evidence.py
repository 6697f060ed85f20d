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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.config import DEFAULTS, AnswerConfig
from rag.contracts import Evidence
from rag.corpus import Corpus, Report, Section, read_source
from rag.corpus.reading import SourceText
from rag.errors import RagError
from rag.retrieval.chunking import Chunk, heading_span
from rag.retrieval.retriever import Hit, period_conflict
from rag.text.bigrams import BigramIdf, bigrams, query_grams, relevance
from rag.text.items import item_runs
from rag.text.sentences import passage_sentences, sentence_bounds

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


# The question's subject names one of a section's sub-headings — asks inside that item, not for the list
# of items it is one of — when it holds at least this share of that heading's words (bigrams, less the
# report title's and less those most of its siblings share: 「狠抓」 of 「哪几个‘狠抓’」 names the list, not
# an item), and more than of the section's own heading. 「工作中存在哪几方面问题」 holds 4 of 「工作中存在的
# 问题」's 6 that its title does not hold.
NAMED_HEADING = 1 / 3


class _Headings:
    """A section's own heading and its sub-headings as words (bigrams, less the report title's)."""

    def __init__(self, section: Section, children: Sequence[Section], title: str):
        titled = bigrams(title)

        def own(s: Section) -> set[str]:
            return bigrams((s.heading or "").removeprefix(s.marker or "")) - titled

        self.section = own(section)
        self.kids = [own(c) for c in children]
        # the words most sub-headings share name the list (「狠抓」), not one item
        self.shared = {g for g in set().union(*self.kids)
                       if sum(g in k for k in self.kids) * 2 > len(self.kids)}

    def names_an_item(self, asked: set[str]) -> bool:
        def named(grams: set[str]) -> float:
            return len(grams & asked) / len(grams) if grams else 0.0

        best = max(named(k - self.shared) for k in self.kids)
        return best >= NAMED_HEADING and best > named(self.section)


@dataclass(frozen=True)
class ItemList:
    """A list written as enumerated sentences (「一是…二是…」) in a section's own text."""

    lead: Evidence | None  # the sentence before the first item
    items: list[Evidence]  # each item's enumerated sentence, in order
    end: int  # where the last item's paragraph ends: the list's text runs from its lead to here

    @property
    def announces(self) -> bool:
        """Whether the lead announces the items (「…问题和不足：」)."""
        return self.lead is not None and self.lead.text.rstrip().endswith(("：", ":"))

    def holds(self, start: int) -> bool:
        """Whether the sentence starting at ``start`` is the list's lead, an item or in an item's text."""
        return (self.lead is not None and start == self.lead.char_start) or (
            self.items[0].char_start <= start < self.end)


class EvidenceSelector:
    """Cuts hits down to numbered passages under a character budget."""

    def __init__(self, corpus: Corpus, idf: BigramIdf, config: AnswerConfig = DEFAULTS.answer):
        self.corpus = corpus
        self.idf = idf
        self.config = config
        self._source = lru_cache(maxsize=64)(self._read)
        self.item_lists = lru_cache(maxsize=256)(self._item_lists)

    def _read(self, source_file: str) -> SourceText:
        return read_source(Path(self.corpus.data_dir) / source_file)

    def _outline(self, question: str, about: str, hits: Sequence[Hit],
                 size: int | None = None) -> list[Evidence]:
        """The sub-section headings of the section the best hits are about, one Evidence per heading.

        「重点做好哪几方面工作」「哪四个‘超前’」 are answered by a section's sub-headings, which no single
        passage holds. The candidates are the sections of the top three hits that have two or more
        sub-sections — the hit's own section, or its parent when the hit sits in one of the items — less those
        whose sub-headings are of another period than the question's (「2023年工作情况」 for a question about
        2024) or one of which the question's subject (``about``, plan.py) names (「工作中存在哪几方面问题」
        asks inside 「二、工作中存在的问题」, not for the report's top-level headings). The first candidate
        whose sub-headings share a word the subject names (「哪几个‘狠抓’」) wins, else the first.
        """
        asked = bigrams(about or question)
        first: tuple[Report, Hit, list[tuple[Section, tuple[int, int]]]] | None = None
        for report, sec, hit, spans in self._sections_with_parts(hits, size):
            heads = _Headings(sec, [c for c, _ in spans], report.title)
            if period_conflict(question, list(sec.path)) or heads.names_an_item(asked):
                continue
            if heads.shared & asked:
                return self._headings(report, hit, spans)
            first = first or (report, hit, spans)
        return self._headings(*first) if first else []

    def _sections_with_parts(self, hits: Sequence[Hit], size: int | None) -> Iterator[
            tuple[Report, Section, Hit, list[tuple[Section, tuple[int, int]]]]]:
        """The sections of the top three hits (their own, then their parent) with two or more sub-sections
        (``size`` of them when given), each once, with their sub-headings' spans."""
        seen: set[str] = set()
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
                if len(spans) < 2 or (size is not None and len(spans) != size) or sec.id in seen:
                    continue
                seen.add(sec.id)
                yield report, sec, hit, spans

    def _headings(self, report: Report, hit: Hit,
                  spans: list[tuple[Section, tuple[int, int]]]) -> list[Evidence]:
        src = self._source(report.source_file)
        return [Evidence(
            id=0, chunk_id=hit.chunk_id, kind="heading", report_id=report.id,
            report_title=report.title, source_file=report.source_file, section_id=c.id,
            section_path=list(c.path), text=src.text[a:b], score=hit.score,
            line_start=src.line_of(a), line_end=src.line_of(b - 1), char_start=a, char_end=b,
        ) for c, (a, b) in spans[: self.config.outline_max]]

    def _item_lists(self, section_id: str) -> list[ItemList]:
        """The lists a section's own text writes as enumerated sentences (rag/text/items.py), each item the
        sentence its enumerator opens; none for a section of another corpus (tests)."""
        try:
            report, section = self.corpus.find_section(section_id)
        except RagError:
            return []
        src = self._source(report.source_file)
        spans: list[tuple[int, int]] = []
        paragraph_end: list[int] = []  # the end of each sentence's paragraph
        for p in section.paragraphs:
            if p.kind != "heading":
                own = passage_sentences(src.text[p.char_start:p.char_end], p.char_start)
                spans += own
                paragraph_end += [p.char_end] * len(own)
        texts = [src.text[a:b] for a, b in spans]

        def evidence(a: int, b: int) -> Evidence:
            return Evidence(id=0, chunk_id="", report_id=report.id, report_title=report.title,
                            source_file=report.source_file, section_id=section.id,
                            section_path=list(section.path), text=src.text[a:b], score=0.0,
                            line_start=src.line_of(a), line_end=src.line_of(b - 1), char_start=a, char_end=b)

        out = []
        for run in item_runs(texts):
            before = run[0] - 1
            out.append(ItemList(lead=evidence(*spans[before]) if before >= 0 else None,
                                items=[evidence(*spans[i]) for i in run], end=paragraph_end[run[-1]]))
        return out

    def select(self, question: str, hits: Sequence[Hit], diversify: bool = False,
               enumeration: bool = False, enumeration_size: int | None = None,
               judged: SpanScore | None = None, about: str = "") -> list[Evidence]:
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
            for e in self._outline(question, about, hits, enumeration_size):
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
