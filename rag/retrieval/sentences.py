"""Sentence-level evidence: every sentence of every text chunk, with a dense vector, saved beside the chunks.

Retrieval finds chunks (400 characters, a report's section); the answer stage then judges the sentences of
the retrieved chunks one by one (rag/answering/judge.py). Each sentence is embedded with its report title
and heading path in EmbeddingGemma's title slot (the chunk's ``embed_title``), so 「公司的排放量为120万吨」
is embedded as a sentence *of that company's report*. Vectors are cut to a Matryoshka prefix of
:data:`SENTENCE_DIM` dimensions and re-normalised: the judge reads one cosine per sentence, and 256 of
EmbeddingGemma's 768 dimensions keep its ranking while the matrix takes a third of the memory
(6,061 bundled sentences: 6 MB).

A sentence is a span of the chunk's ``text`` (original characters, so a citation can quote it) cut at
rag/text/sentences.py's marks; its embedding input is the search form of that span. Overlapping chunks repeat
a sentence: the embedding cache (keyed by the exact input) embeds it once. Outline chunks (a section's
headings) have no sentences here.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.cache import EmbeddingCache, cached_encode
from rag.retrieval.chunking import Chunk
from rag.storage import write_file
from rag.text.normalize import normalize_for_search
from rag.text.sentences import sentence_bounds

SENTENCE_DIM = 256
MIN_CHARS = 4  # a sentence of fewer non-space characters (「一是」「（三）」) says nothing alone


def chunk_sentences(chunk: Chunk) -> list[tuple[int, int]]:
    """The sentences of a text chunk as (start, end) offsets into ``chunk.text``, whitespace trimmed."""
    if chunk.chunk_type != "text":
        return []
    text = chunk.text
    out = []
    for a, b in itertools.pairwise(sentence_bounds(text)):
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece) - len(piece.rstrip())
        if b - a - lead - trail >= MIN_CHARS:
            out.append((a + lead, b - trail))
    return out


def matryoshka(vectors: np.ndarray, dim: int = SENTENCE_DIM) -> np.ndarray:
    """The first ``dim`` dimensions, re-normalised to unit length (cosine = dot product)."""
    cut = np.asarray(vectors, dtype=np.float32)[:, :dim]
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return cut / np.maximum(norms, 1e-12)


@dataclass
class SentenceVectors:
    """Per chunk (in index order) its sentence spans, and one row of ``matrix`` per span."""

    spans: list[list[tuple[int, int]]]
    matrix: np.ndarray  # (n_sentences, SENTENCE_DIM) float32, unit rows
    starts: np.ndarray  # first row of each chunk

    @classmethod
    def build(cls, spans: list[list[tuple[int, int]]], matrix: np.ndarray) -> SentenceVectors:
        starts = np.zeros(len(spans), dtype=np.int64)
        if spans:
            starts[1:] = np.cumsum([len(s) for s in spans])[:-1]
        return cls(spans, matrix, starts)

    def of_chunk(self, i: int) -> tuple[list[tuple[int, int]], np.ndarray]:
        a = int(self.starts[i])
        return self.spans[i], self.matrix[a : a + len(self.spans[i])]

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def write(self, folder: Path) -> None:
        write_file(folder / "sentences.json", json.dumps(self.spans))
        with open(folder / "sentences.npy", "wb") as f:
            np.save(f, self.matrix.astype(np.float16))  # half precision: a cosine to 3 decimals is plenty

    @classmethod
    def read(cls, folder: Path) -> SentenceVectors:
        spans = [[(int(a), int(b)) for a, b in chunk] for chunk in json.loads(
            (folder / "sentences.json").read_text(encoding="utf-8"))]
        matrix = np.load(folder / "sentences.npy").astype(np.float32)
        if matrix.shape[0] != sum(len(s) for s in spans):
            raise ValueError("sentences.npy and sentences.json disagree")
        return cls.build(spans, matrix)


def sentence_inputs(chunks: Sequence[Chunk], encoder) -> tuple[list[list[tuple[int, int]]], list[str]]:
    """Each chunk's sentence spans, and the exact model inputs of all of them (title slot: the chunk's
    report title and heading path)."""
    spans = [chunk_sentences(c) for c in chunks]
    texts, titles = [], []
    for c, chunk_spans in zip(chunks, spans, strict=True):
        for a, b in chunk_spans:
            texts.append(normalize_for_search(c.text[a:b]))
            titles.append(c.embed_title)
    return spans, encoder.document_inputs(texts, titles)


def embed_sentences(chunks: Sequence[Chunk], encoder, cache: EmbeddingCache | None,
                    progress: bool = True) -> tuple[SentenceVectors, int]:
    """The sentence vectors of ``chunks``; only sentences the cache has never seen are embedded."""
    spans, inputs = sentence_inputs(chunks, encoder)
    if not inputs:
        return SentenceVectors.build(spans, np.zeros((0, SENTENCE_DIM), dtype=np.float32)), 0
    if cache is None:
        vectors, embedded = encoder.encode_inputs(inputs, progress=progress), len(inputs)
    else:
        vectors, embedded = cached_encode(cache, encoder.model_id, inputs,
                                          lambda idx: encoder.encode_inputs([inputs[i] for i in idx]),
                                          encoder.dim, progress=progress)
    return SentenceVectors.build(spans, matryoshka(vectors)), embedded
