"""Lexical relevance: IDF-weighted character bigrams shared by a question and a text.

Bigrams of body names and topic words (「水资源费」) are rare in the corpus and weigh a lot; 「工作」「推进」
weigh nearly nothing. Used to pick the sentences of a hit that bear on the question (answering/evidence.py)
and to order the top hits (rag/retrieval/retriever.py).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from rag.text.lexicon import QUESTION_WORDS
from rag.text.normalize import normalize_for_search

_CONTENT = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")
# Words that say what kind of answer is wanted, not what it is about.
_QUESTION_WORDS = re.compile(QUESTION_WORDS)


def bigrams(text: str) -> set[str]:
    out: set[str] = set()
    for seg in _CONTENT.findall(normalize_for_search(text).lower()):
        if len(seg) == 1:
            out.add(seg)
        out.update(seg[i : i + 2] for i in range(len(seg) - 1))
    return out


class BigramIdf:
    """Inverse document frequency of character bigrams over the indexed chunks."""

    def __init__(self, documents: Iterable[str]):
        df: Counter[str] = Counter()
        n = 0
        for doc in documents:
            df.update(bigrams(doc))
            n += 1
        self.n = max(n, 1)
        self.df = df

    def __call__(self, gram: str) -> float:
        return math.log((self.n + 1) / (self.df.get(gram, 0) + 1))


def query_grams(question: str, idf: BigramIdf) -> dict[str, float]:
    """Weighted bigrams of the question, question words removed."""
    stripped = _QUESTION_WORDS.sub(" ", normalize_for_search(question))
    return {g: idf(g) for g in bigrams(stripped)}


def relevance(q: dict[str, float], text: str) -> float:
    """Share of the question's bigram weight found in ``text`` (0..1)."""
    total = sum(q.values())
    if not total:
        return 0.0
    grams = bigrams(text)
    return sum(w for g, w in q.items() if g in grams) / total
