"""`rag eval …`: evaluation commands."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rag.settings import PROJECT_ROOT

DEFAULT_GOLD = PROJECT_ROOT / "eval" / "gold.jsonl"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="evaluate on a gold question set")
    sub = p.add_subparsers(dest="eval_command", metavar="WHAT")
    r = sub.add_parser("retrieval", help="recall@k / MRR at quote level, ours vs naive baselines")
    r.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    r.add_argument("--limit", type=int, help="only the first N answerable questions")
    r.add_argument("--no-baselines", action="store_true", help="only our retriever and its ablations")
    r.add_argument("--no-timings", action="store_true", help="skip the warm-rebuild and load timings")
    r.add_argument("--out", type=Path, default=PROJECT_ROOT / "eval" / "results" / "retrieval.json")
    r.set_defaults(func=_retrieval)
    a = sub.add_parser("answers", help="key facts, citations, numbers, refusals and latency of full answers")
    a.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    a.add_argument("--mode", choices=["llm", "extractive"], default="llm")
    a.add_argument("--limit", type=int, help="only the first N questions")
    a.add_argument("--ids", help="comma-separated question ids to run")
    a.add_argument("--out", type=Path, help="per-question JSON (default: eval/results/)")
    a.set_defaults(func=_answers)
    p.set_defaults(func=lambda args: p.print_help() or 1)


def _retrieval(args: argparse.Namespace) -> int:
    from embeddings.cache import EmbeddingCache
    from embeddings.encoder import model_fingerprint
    from eval.retrieval import evaluate, format_by_type, format_table, load_gold, write_json
    from rag.chunking import fixed_chunks
    from rag.corpus import load_corpus
    from rag.index import build_index, embed_chunks, load_index, memory_index
    from rag.retrieve import Retriever
    from rag.services import chunk_config, open_encoder, open_index
    from rag.settings import Settings

    settings = Settings()
    items = [i for i in load_gold(args.gold) if i.answerable and i.sources]
    if args.limit:
        items = items[: args.limit]
    corpus = load_corpus(settings.data_dir)
    encoder = open_encoder(settings)
    index, _ = open_index(settings, corpus=corpus, encoder=encoder)
    ours = Retriever(index, encoder)
    encoder.encode_queries(["预热"])  # first call pays one-off setup; not a query latency

    conditions = {
        "hybrid (ours)": lambda q: ours.search(q, k=10),
        "structure-dense": lambda q: ours.search(q, k=10, mode="dense"),
        "structure-bm25": lambda q: ours.search(q, k=10, mode="bm25"),
    }
    if not args.no_baselines:
        fixed = fixed_chunks(corpus, 400)
        cache = EmbeddingCache(settings.cache_dir / "embeddings.sqlite")
        vectors, _ = embed_chunks(fixed, encoder, cache, progress=True)
        cache.close()
        naive = Retriever(memory_index(fixed, vectors, label="baseline-fixed-400"), encoder)
        conditions["baseline-fixed-dense"] = lambda q: naive.search(q, k=10, mode="dense")
        conditions["baseline-fixed-bm25"] = lambda q: naive.search(q, k=10, mode="bm25")
        conditions["baseline-fixed-hybrid"] = lambda q: naive.search(q, k=10, mode="hybrid")

    report = {name: evaluate(fn, items, desc=name) for name, fn in conditions.items()}
    print(f"retrieval on {len(items)} answerable gold questions ({args.gold.name})")
    print(format_table(report))
    print()
    print(format_by_type("hybrid (ours)", report["hybrid (ours)"]))

    timings: dict[str, float] = {"n_chunks": index.manifest.n_chunks,
                                 "last_build_seconds": index.manifest.build_seconds,
                                 "last_build_embedded": index.manifest.embedded}
    if not args.no_timings:
        t0 = time.perf_counter()
        load_index(settings.index_dir)
        timings["index_load_s"] = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            cache = EmbeddingCache(settings.cache_dir / "embeddings.sqlite")
            t0 = time.perf_counter()
            build_index(corpus, encoder, Path(tmp), cache, model_fingerprint(settings.embedding_model_path()),
                        cfg=chunk_config(settings), progress=False)
            timings["warm_rebuild_s"] = time.perf_counter() - t0
            cache.close()
        print(f"\nindex: {timings['n_chunks']} chunks; load {timings['index_load_s']:.2f} s; warm rebuild "
              f"(all embeddings cached) {timings['warm_rebuild_s']:.2f} s; last build "
              f"{timings['last_build_seconds']:.1f} s embedding {timings['last_build_embedded']} chunks")
    write_json(args.out, {"gold": str(args.gold), "n": len(items), "conditions": report, "timings": timings})
    print(f"\nper-question results: {args.out}", file=sys.stderr)
    return 0


def _answers(args: argparse.Namespace) -> int:
    from eval.answers import by_type, format_summary, run, summarize, write
    from eval.retrieval import load_gold
    from rag.services import open_answer_service
    from rag.settings import Settings

    settings = Settings()
    items = load_gold(args.gold)
    if args.ids:
        wanted = set(args.ids.split(","))
        items = [i for i in items if i.id in wanted]
    if args.limit:
        items = items[: args.limit]
    service = open_answer_service(settings, with_llm=args.mode == "llm")
    service.warm_up()
    name = f"{args.mode}-{service.model_name}" if args.mode == "llm" else "extractive"
    records = run(service, items, args.mode, desc=name)
    summary = summarize(records)
    print(f"answers on {len(items)} gold questions ({args.gold.name})")
    print(format_summary(name, summary))
    for t, s in by_type(records).items():
        print(format_summary(f"  {t}", s))
    out = args.out or PROJECT_ROOT / "eval" / "results" / f"answers-{name}.json"
    write(out, {"gold": str(args.gold), "condition": name, "summary": summary, "by_type": by_type(records),
                "records": [r.model_dump() for r in records]})
    print(f"per-question results: {out}", file=sys.stderr)
    return 0
