"""Sweep the hybrid retriever's fusion constants on a gold set (how the defaults were chosen).

    .venv/bin/python -m eval.sweep_fusion [--gold eval/gold.jsonl]

Each question is embedded once; every combination reuses its vector, so the sweep takes about a minute.
"""

from __future__ import annotations

import argparse
import itertools
from functools import partial
from pathlib import Path

from eval.retrieval import QueryMemo, evaluate, load_gold
from rag.app import open_encoder, open_index
from rag.config import PROJECT_ROOT, RetrievalConfig, Settings
from rag.retrieval.retriever import Retriever


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.sweep_fusion")
    parser.add_argument("--gold", type=Path, default=PROJECT_ROOT / "eval" / "gold.jsonl")
    args = parser.parse_args(argv)
    settings = Settings()
    encoder = open_encoder(settings)
    index, _ = open_index(settings, encoder=encoder)
    items = [i for i in load_gold(args.gold) if i.answerable and i.sources]
    memo = QueryMemo(encoder)
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
