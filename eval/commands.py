"""`rag eval …`: evaluation commands."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rag.config import PROJECT_ROOT

DEFAULT_GOLD = PROJECT_ROOT / "eval" / "gold.jsonl"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate on a gold question set (conditions of eval/conditions.yaml); diff two runs",
        description="Without a sub-command: run the named conditions of eval/conditions.yaml on the gold "
        "set, write <condition>.json (with provenance: commit, models, corpus and gold hashes, config) and "
        "report.md; --check compares each metric with its expected value and exits 1 on a regression "
        "beyond tolerance. Only a full run on the bundled corpus and gold set writes eval/results/; other "
        "runs go to a folder of their own under the cache dir (printed).")
    p.add_argument("--gold", type=Path, default=DEFAULT_GOLD, help="gold JSONL (format: eval/README.md)")
    p.add_argument("--corpus", type=Path, help="folder of report files (default: the data dir); its index "
                   "is keyed by the corpus content hash under RAG_INDEX_DIR if set, else the cache dir")
    p.add_argument("--skip-bad", action="store_true",
                   help="evaluate the report files that load and list every refused file with its reason "
                   "(default: stop, naming every file that cannot be loaded)")
    p.add_argument("--condition", default="all",
                   help="a condition name, a comma-separated list, `all`, or `ci` (the fast subset)")
    p.add_argument("--conditions-file", type=Path, help="conditions YAML (default eval/conditions.yaml)")
    p.add_argument("--limit", type=int, help="only the first N questions (results go to a scratch folder; "
                   "not with --check)")
    p.add_argument("--check", action="store_true", help="compare with expected scores; exit 1 on regression")
    p.add_argument("--out", type=Path, help="results folder (default: eval/results for a full run on the "
                   "bundled corpus and gold set, else a folder under the cache dir)")
    p.set_defaults(func=_harness)
    sub = p.add_subparsers(dest="eval_command", metavar="WHAT")
    d = sub.add_parser("diff", help="questions that got better or worse between two result files")
    d.add_argument("a", type=Path)
    d.add_argument("b", type=Path)
    d.set_defaults(func=_diff)
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


def _retrieval(args: argparse.Namespace) -> int:
    from embeddings.cache import EmbeddingCache
    from embeddings.encoder import model_fingerprint
    from eval.retrieval import evaluate, format_by_type, format_table, load_gold, write_json
    from rag.app import chunk_config, open_encoder, open_index
    from rag.config import Settings
    from rag.corpus import load_corpus
    from rag.retrieval.chunking import fixed_chunks
    from rag.retrieval.index import build_index, embed_chunks, load_index, memory_index
    from rag.retrieval.retriever import Retriever

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
        naive = Retriever(memory_index(fixed, vectors, label="baseline-fixed-400"), encoder,
                          rerank_weight=0.0)
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
    from rag.app import open_answer_service
    from rag.config import Settings

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


def _same_files(expected: dict[str, str], got: dict[str, str]) -> bool:
    return bool(expected) and expected == got


def _harness(args: argparse.Namespace) -> int:
    from eval.harness import (
        CONDITIONS_FILE,
        RESULTS_DIR,
        Runner,
        file_sha256,
        folder_files,
        load_conditions_file,
        load_eval_corpus,
        load_result,
        run_conditions,
        write_report,
    )
    from eval.retrieval import load_gold
    from rag.config import Settings
    from rag.errors import RagError

    conditions_path = args.conditions_file or CONDITIONS_FILE
    spec = load_conditions_file(conditions_path)
    conditions = spec.conditions
    if args.condition == "all":
        chosen = list(conditions.values())
    elif args.condition == "ci":
        chosen = [c for c in conditions.values() if c.ci]
    else:
        names = [n.strip() for n in args.condition.split(",") if n.strip()]
        unknown = [n for n in names if n not in conditions]
        if unknown:
            known = ", ".join([*conditions, "all", "ci"])
            raise RagError(f"unknown condition(s) {', '.join(unknown)}; known: {known}")
        chosen = [conditions[n] for n in names]
    if args.limit is not None and args.limit < 1:
        raise RagError("--limit must be at least 1")
    if args.check and args.limit:
        raise RagError(f"--check with --limit: the expected scores in {conditions_path.name} were measured "
                       f"on the full question set, and the first {args.limit} questions are another sample "
                       "(their scores can differ by more than any tolerance without a regression). Run "
                       "--check without --limit, or --limit without --check to look at a subset.")
    if not args.gold.is_file():
        raise RagError(f"gold file {args.gold} not found")
    items = load_gold(args.gold)  # a bad file: every problem with its file, line and field
    if args.limit:
        items = items[: args.limit]
    settings = Settings()
    if args.corpus:
        if not args.corpus.is_dir():
            raise RagError(f"corpus folder {args.corpus} not found")
        settings = settings.model_copy(update={"data_dir": args.corpus.resolve()})
    corpus_dir = settings.data_dir

    # Which corpus and questions the expectations (and eval/results/) are for: compared by content.
    expected_corpus = spec.corpus_path()
    corpus, refused = load_eval_corpus(corpus_dir, skip_bad=args.skip_bad)
    for name, reason in refused:
        print(f"refused {name}: {reason}", file=sys.stderr)
    if refused:
        print(f"--skip-bad: evaluating {len(corpus.files)} of {len(corpus.files) + len(refused)} report "
              f"files ({len(refused)} refused, listed above)", file=sys.stderr)
    evaluated = {f.name: f.sha256 for f in corpus.files}
    bundled_corpus = _same_files(folder_files(expected_corpus), evaluated)
    bundled_gold = spec.gold_path().is_file() and file_sha256(args.gold) == file_sha256(spec.gold_path())
    if (args.corpus or not bundled_corpus) and any(c.gold for c in chosen):
        # a condition with its own question set (the held-out set) is about the bundled corpus
        print("skipping " + ", ".join(c.name for c in chosen if c.gold) + ": their questions are about "
              "the bundled corpus", file=sys.stderr)
        chosen = [c for c in chosen if not c.gold]
    if not chosen:
        print("no condition left to run", file=sys.stderr)
        return 0
    if args.check:
        if not bundled_corpus:
            what = (f"{len(refused)} of its files were refused" if refused and corpus_dir == expected_corpus
                    else f"corpus {corpus_dir} is not the one they were measured on")
            raise RagError(f"--check: no expected scores for this corpus: the expectations in "
                           f"{conditions_path} are for {expected_corpus} (its `corpus:`), and {what}. Run "
                           "without --check to measure it, or give --conditions-file with `corpus: <that "
                           "folder>` and expected values measured on it.")
        own_gold = [c.name for c in chosen if not c.gold]
        if own_gold and not bundled_gold:
            raise RagError(f"--check: {args.gold} is not the question set the expected scores of "
                           f"{', '.join(own_gold)} were measured on ({spec.gold_path()}, `gold:` in "
                           f"{conditions_path.name}); run without --check, or with a conditions file for it.")

    label = f"{corpus_dir.name}-{corpus.content_hash[:12]}"
    if args.corpus:
        # another corpus gets its own index folder, keyed by content (never the service's index)
        root = settings.index_dir if "index_dir" in settings.model_fields_set else settings.cache_dir
        settings = settings.model_copy(update={"index_dir": root / "eval-index" / corpus.content_hash[:16]})
    print(f"corpus {corpus_dir}: {len(corpus.files)} files, content hash {corpus.content_hash[:12]}; "
          f"index (built if missing or stale): {settings.index_dir}", file=sys.stderr)

    canonical = bundled_corpus and not args.limit and (bundled_gold or all(c.gold for c in chosen))
    if args.out:
        out = args.out
        if out.resolve() == RESULTS_DIR.resolve() and not canonical:
            raise RagError(f"--out {args.out}: {RESULTS_DIR} holds the committed results of full runs on the "
                           "bundled corpus and gold set; give another folder for this run")
        where = ""
    elif canonical:
        out, where = RESULTS_DIR, ""
    elif args.limit or bundled_corpus:  # a subset, or other questions on the bundled corpus
        tag = f"{args.gold.stem}" + (f"-limit{args.limit}" if args.limit else "")
        out = settings.cache_dir / "eval-scratch" / f"{label}-{tag}"
        where = (f" (a --limit run: scratch folder; {RESULTS_DIR} is left alone)" if args.limit
                 else f" (another question set: scratch folder; {RESULTS_DIR} is left alone)")
    else:
        out = settings.cache_dir / "eval-results" / (label if bundled_gold else f"{label}-{args.gold.stem}")
        where = f" (another corpus: a folder of its own; {RESULTS_DIR} is left alone)"
    runner = Runner(settings, corpus=corpus, refused=refused)
    failures = run_conditions(runner, chosen, items, out, args.check, limit=args.limit or None,
                              gold=args.gold.resolve())
    results = {p.stem: load_result(p) for p in sorted(out.glob("*.json")) if p.stem in conditions}
    report = write_report(results, out)
    print(f"results: {out}/<condition>.json · report: {report}{where}", file=sys.stderr)
    if args.check:
        print(f"check: {failures} metric(s) outside tolerance" if failures
              else "check: all metrics within tolerance")
    return 1 if failures else 0


def _diff(args: argparse.Namespace) -> int:
    from eval.harness import describe, diff, load_result, provenance_warnings
    from rag.errors import RagError

    for path in (args.a, args.b):
        if not path.is_file():
            raise RagError(f"result file {path} not found; `rag eval` writes them to eval/results/")
    a, b = load_result(args.a), load_result(args.b)
    print(f"A: {describe(a)}")
    print(f"B: {describe(b)}")
    for warning in provenance_warnings(a, b):
        print(f"warning: {warning}; questions are matched by id")
    better, worse = diff(a, b)
    print(f"better ({len(better)}):")
    print("\n".join(f"  + {line}" for line in better) or "  none")
    print(f"worse ({len(worse)}):")
    print("\n".join(f"  - {line}" for line in worse) or "  none")
    return 0
