"""Measure chunk size and overlap: retrieval quality of BM25 over each chunking of the corpus.

    .venv/bin/python -m eval.sweep_chunking [--gold eval/gold.jsonl] [--sizes 240,320,400,480,560]

BM25 only, so every configuration is measured in seconds; the dense side costs a full re-embedding
per configuration (~7 min), which is why the default size also weighs the embedding budget (see
README, "Measured retrieval quality and speed").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from eval.retrieval import load_gold, relevant
from rag.bm25 import tokenize
from rag.chunking import ChunkConfig, chunk_corpus
from rag.corpus import load_corpus
from rag.index import IndexManifest, SearchIndex, VectorStore, bm25_document
from rag.retrieve import Retriever
from rag.settings import PROJECT_ROOT, Settings


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
            manifest = IndexManifest(model_id="none", chunker_version="sweep", chunk_config=cfg,
                                     corpus_hash=corpus.content_hash, n_chunks=len(chunks), dim=1,
                                     built_at=0, build_seconds=0, embedded=0)
            index = SearchIndex(manifest, chunks, [tokenize(bm25_document(c)) for c in chunks],
                                VectorStore(np.zeros((len(chunks), 1), dtype=np.float32)))
            retriever = Retriever(index, encoder=None)
            ranks = []
            for item in items:
                hits = retriever.search(item.question, k=10, mode="bm25")
                ranks.append(next((h.rank for h in hits if any(relevant(h, s) for s in item.sources)), None))
            n = len(ranks)
            r = [sum(x is not None and x <= c for x in ranks) / n for c in (1, 5, 10)]
            mrr = sum(1 / x for x in ranks if x) / n
            chars = sum(len(c.text) for c in chunks)
            row = [f"{size:9}", f"{overlap:9}", f"{len(chunks):9}", f"{chars:9}"]
            print(" ".join(row + [f"{v:9.3f}" for v in (*r, mrr)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
