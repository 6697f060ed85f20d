"""Sweep the hybrid retriever's fusion constants on a gold set (how the defaults were chosen).

    .venv/bin/python -m eval.sweep_fusion [--gold eval/gold.jsonl]

Query vectors are computed once; every combination reuses them, so the sweep takes about a minute.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from eval.retrieval import load_gold, relevant
from rag.retrieve import Retriever
from rag.services import open_encoder, open_index
from rag.settings import PROJECT_ROOT, Settings


class _Fixed:
    """Encoder stand-in that returns the precomputed vector of the current question."""

    def __init__(self) -> None:
        self.vec: np.ndarray | None = None

    def encode_queries(self, queries):
        return np.stack([self.vec])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.sweep_fusion")
    parser.add_argument("--gold", type=Path, default=PROJECT_ROOT / "eval" / "gold.jsonl")
    args = parser.parse_args(argv)
    settings = Settings()
    encoder = open_encoder(settings)
    index, _ = open_index(settings, encoder=encoder)
    items = [i for i in load_gold(args.gold) if i.answerable and i.sources]
    vectors = {i.id: encoder.encode_queries([i.question])[0] for i in items}
    fixed = _Fixed()
    print(f"{'rrf_k':>6} {'dense_w':>8} {'report_w':>9} {'r@1':>6} {'r@5':>6} {'r@10':>6} {'mrr':>6}")
    for k, dw, rw in itertools.product((10, 30, 60), (0.3, 0.5, 0.7, 1.0), (0.0, 0.5)):
        retriever = Retriever(index, fixed, rrf_k=k, dense_weight=dw, report_weight=rw)
        ranks = []
        for item in items:
            fixed.vec = vectors[item.id]
            hits = retriever.search(item.question, k=10)
            ranks.append(next((h.rank for h in hits if any(relevant(h, s) for s in item.sources)), None))
        n = len(ranks)
        r = [sum(x is not None and x <= c for x in ranks) / n for c in (1, 5, 10)]
        mrr = sum(1 / x for x in ranks if x) / n
        print(f"{k:6} {dw:8.1f} {rw:9.1f} {r[0]:6.3f} {r[1]:6.3f} {r[2]:6.3f} {mrr:6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
