"""Measure chunk size and overlap: retrieval quality of BM25 over each chunking of the corpus.

    .venv/bin/python -m eval.sweep_chunking [--gold eval/gold.jsonl] [--sizes 240,320,400,480,560]

BM25 only, so every configuration is measured in seconds; the dense side costs a full re-embedding
per configuration (~7 min), which is why the default size also weighs the embedding budget (see
eval/README.md, "Retrieval quality and speed").
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import numpy as np

from eval.retrieval import evaluate, load_gold
from rag.config import PROJECT_ROOT, RetrievalConfig, Settings
from rag.corpus import load_corpus
from rag.retrieval.chunking import ChunkConfig, chunk_corpus
from rag.retrieval.index import memory_index
from rag.retrieval.retriever import Retriever


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.sweep_chunking")
    parser.add_argument("--gold", type=Path, default=PROJECT_ROOT / "eval" / "gold.jsonl")
    parser.add_argument("--sizes", default="240,320,400,480,560")
    args = parser.parse_args(argv)
    corpus = load_corpus(Settings().data_dir)
    items = [i for i in load_gold(args.gold) if i.answerable and i.sources]
    cols = ("max_chars", "overlap", "chunks", "chars", "r@1", "r@5", "r@10", "mrr")
    print(" ".join(f"{c:>9}" for c in cols))
    for size in (int(x) for x in args.sizes.split(",")):
        for overlap in (0, 1):
            cfg = ChunkConfig(max_chars=size, overlap_sentences=overlap)
            chunks = chunk_corpus(corpus, cfg)
            index = memory_index(chunks, np.zeros((len(chunks), 1), dtype=np.float32), cfg=cfg)
            config = RetrievalConfig(rerank_weight=0.0)
            # search(mode="bm25") below never calls the encoder: this sweep loads none
            retriever = Retriever(index, None, config)  # type: ignore[arg-type]  # BM25 only: no encoder
            m = evaluate(partial(retriever.search, k=10, mode="bm25"), items)["overall"]
            chars = sum(len(c.text) for c in chunks)
            row = [f"{size:9}", f"{overlap:9}", f"{len(chunks):9}", f"{chars:9}"]
            print(" ".join(row + [f"{m[c]:9.3f}" for c in ("recall@1", "recall@5", "recall@10", "mrr")]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
