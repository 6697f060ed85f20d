"""`rag index` and `rag search`."""

from __future__ import annotations

import argparse
import json
import sys
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("index", help="build the search index if missing or stale")
    p.add_argument("--rebuild", action="store_true", help="rebuild even if fresh (embeddings stay cached)")
    p.set_defaults(func=_index)

    s = subparsers.add_parser("search", help="hybrid search over the reports")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=10, help="number of hits (1-50)")
    s.add_argument("--json", action="store_true", help="print hits as JSON")
    s.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    for field in ("period", "kind", "body", "level", "report"):
        s.add_argument(f"--{field}", help=f"filter on report {field}")
    s.set_defaults(func=_search)


def _index(args: argparse.Namespace) -> int:
    from rag.app import open_index
    from rag.config import Settings

    t0 = time.perf_counter()
    index, built = open_index(Settings(), rebuild=args.rebuild)
    m = index.manifest
    verb = "built" if built else "up to date"
    print(f"index {verb}: {m.n_chunks} chunks ({m.embedded if built else 0} embedded), {m.n_sentences} "
          f"sentences ({m.embedded_sentences if built else 0} embedded), {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    return 0


def _search(args: argparse.Namespace) -> int:
    from rag.app import open_retriever
    from rag.config import Settings
    from rag.errors import RagError
    from rag.retrieval.retriever import Filters

    # Check the input before paying for the model load.
    if not args.query.strip():
        raise RagError("the query is empty; type a question or keywords")
    if not 1 <= args.k <= 50:
        raise RagError("-k must be between 1 and 50")
    filters = Filters(period=args.period, kind=args.kind, body=args.body, level=args.level,
                      report_id=args.report)
    retriever = open_retriever(Settings())
    hits = retriever.search(args.query, k=args.k, filters=filters, mode=args.mode)
    if args.json:
        print(json.dumps([h.model_dump(mode="json") for h in hits], ensure_ascii=False, indent=2))
        return 0
    for h in hits:
        path = " > ".join(h.section_path) or "(开头)"
        print(f"{h.rank:2}. [{h.score:.4f}] {h.report_title} | {path}")
        print(f"    {h.source_file}:{h.line_start}-{h.line_end}  {h.text[:120].strip()}…")
    return 0
