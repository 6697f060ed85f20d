"""BM25 over a Chinese tokenisation (jieba, search mode) of the normalised search text.

The weight matrix is precomputed (documents × vocabulary, sparse), so a query costs one column
slice and a sum: well under a millisecond for a corpus this size.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import sparse

_WORD = re.compile(r"[\w\u3400-\u4dbf\u4e00-\u9fff]")
# Function words that carry no topic; kept short on purpose (BM25's idf handles the rest).
STOPWORDS = frozenset(
    [*"的了和与及在是对为把将等并也就都而或被从以于上中下有各个年吗呢",
     "什么", "哪些", "如何", "怎么", "怎样", "多少", "是否", "请问", "提到", "提出", "主要", "方面",
     "情况", "工作"]
)


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens of lower-cased text, without punctuation and stopwords."""
    tokens = _jieba().lcut_for_search(text.lower())
    return [t for t in (tok.strip() for tok in tokens) if t and _WORD.search(t) and t not in STOPWORDS]


def word_starts(text: str) -> set[int]:
    """Where jieba's precise mode starts a word in ``text``: 「县人民政府」 → {0, 1}, so 「民政」 at 2 is no
    word of it."""
    starts, at = set(), 0
    for word in _jieba().lcut(text):
        starts.add(at)
        at += len(word)
    return starts


class BM25:
    def __init__(self, docs_tokens: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[int] = []
        lengths = np.zeros(len(docs_tokens), dtype=np.float32)
        for i, toks in enumerate(docs_tokens):
            lengths[i] = len(toks)
            counts: dict[int, int] = {}
            for t in toks:
                j = vocab.setdefault(t, len(vocab))
                counts[j] = counts.get(j, 0) + 1
            rows.extend([i] * len(counts))
            cols.extend(counts.keys())
            vals.extend(counts.values())
        n = len(docs_tokens)
        tf = sparse.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(n, len(vocab)))
        df = np.bincount(tf.indices, minlength=len(vocab)).astype(np.float32)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        avgdl = float(lengths.mean()) if n else 1.0
        norm = k1 * (1.0 - b + b * lengths / max(avgdl, 1e-6))
        coo = tf.tocoo()
        weights = coo.data * (k1 + 1.0) / (coo.data + norm[coo.row]) * idf[coo.col]
        self.matrix = sparse.csc_matrix((weights, (coo.row, coo.col)), shape=coo.shape)
        self.vocab = vocab
        self.n_docs = n

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        cols = [self.vocab[t] for t in query_tokens if t in self.vocab]
        if not cols:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self.matrix[:, cols].sum(axis=1)).ravel().astype(np.float32)
