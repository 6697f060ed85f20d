"""Sweep the hybrid retriever's fusion constants on a gold set (how the defaults were chosen).

    .venv/bin/python -m eval.sweep_fusion [--gold eval/gold.jsonl]

Each question is embedded once; every combination reuses its vector, so the sweep takes about a minute.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from embeddings.protocol import Encoder
from eval.retrieval import evaluate, load_gold
from rag.app import open_encoder, open_index
from rag.config import PROJECT_ROOT, RetrievalConfig, Settings
from rag.retrieval.retriever import Retriever


class _MemoQueries:
    """Wraps an encoder so each distinct query is embedded once across all combinations (passages go
    straight to the wrapped encoder)."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.memo: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self.encoder.dim

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        for q in queries:
            if q not in self.memo:
                self.memo[q] = self.encoder.encode_queries([q])[0]
        return np.stack([self.memo[q] for q in queries])

    def document_inputs(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> list[str]:
        return self.encoder.document_inputs(texts, titles)

    def encode_inputs(self, inputs: Sequence[str], progress: bool = False) -> np.ndarray:
        return self.encoder.encode_inputs(inputs, progress)

    def encode_documents(self, texts: Sequence[str], titles: Sequence[str] | None = None,
                         progress: bool = False) -> np.ndarray:
        return self.encoder.encode_documents(texts, titles, progress)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.sweep_fusion")
    parser.add_argument("--gold", type=Path, default=PROJECT_ROOT / "eval" / "gold.jsonl")
    args = parser.parse_args(argv)
    settings = Settings()
    encoder = open_encoder(settings)
    index, _ = open_index(settings, encoder=encoder)
    items = [i for i in load_gold(args.gold) if i.answerable and i.sources]
    memo = _MemoQueries(encoder)
    print(f"{'rrf_k':>6} {'dense_w':>8} {'report_w':>9} {'r@1':>6} {'r@5':>6} {'r@10':>6} {'mrr':>6}")
    for k, dw, rw in itertools.product((10, 30, 60), (0.3, 0.5, 0.7, 1.0), (0.0, 0.5)):
        config = RetrievalConfig(rrf_k=k, dense_weight=dw, report_weight=rw, rerank_weight=0.0)
        retriever = Retriever(index, memo, config)
        m = evaluate(partial(retriever.search, k=10), items)["overall"]
        print(f"{k:6} {dw:8.1f} {rw:9.1f} {m['recall@1']:6.3f} {m['recall@5']:6.3f} {m['recall@10']:6.3f} "
              f"{m['mrr']:6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
