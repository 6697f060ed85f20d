"""`rag eval …`: evaluation commands."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rag.config import PROJECT_ROOT, Settings
from rag.errors import RagError

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
    r.add_argument("--limit", type=int, help="only the first N answerable questions (results go to a "
                   "scratch folder, printed)")
    r.add_argument("--no-baselines", action="store_true", help="only our retriever and its ablations")
    r.add_argument("--no-timings", action="store_true", help="skip the warm-rebuild and load timings")
    r.add_argument("--out", type=Path, help="per-question JSON (default: eval/results/retrieval.json for a "
                   "full run on the bundled corpus and gold set, else a file under the cache dir)")
    r.set_defaults(func=_retrieval)
    a = sub.add_parser("answers", help="key facts, citations, numbers, refusals and latency of full answers")
    a.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    a.add_argument("--mode", choices=["llm", "extractive"], default="llm")
    a.add_argument("--limit", type=int, help="only the first N questions (results go to a scratch folder, "
                   "printed)")
    a.add_argument("--ids", help="comma-separated question ids to run (results go to a scratch folder)")
    a.add_argument("--out", type=Path, help="per-question JSON (default: eval/results/answers-<mode>.json "
                   "for a full run on the bundled corpus and gold set, else a file under the cache dir)")
    a.set_defaults(func=_answers)
    c = sub.add_parser("calibrate", help="fit the evidence judge on labelled pairs of two corpora; report "
                       "the cross-corpus figures and the risk-coverage curve; write rag/answering/judge.json",
                       description="Labels the candidate sentences of the tuning questions of the bundled "
                       "corpus (eval/gold.jsonl, eval/holdout.jsonl) and of a second corpus, writes them "
                       "to eval/judge/pairs-<corpus>.jsonl.gz, fits the judge on each corpus and tests it on "
                       "the other, then fits it on both (eval/calibrate.py).")
    _second_corpus(c, "eval/dragonball/tune.jsonl", "its tuning questions")
    c.add_argument("--refit", action="store_true", help="fit from the pair files already in eval/judge/ "
                   "(no retrieval: seconds)")
    c.add_argument("--cost", type=float, default=1.0, help="how many refused answerable questions one "
                   "answered unanswerable question costs when the threshold is chosen (default: %(default)s)")
    c.add_argument("--dry-run", action="store_true", help="print the figures; write no weights")
    c.set_defaults(func=_calibrate)
    s = sub.add_parser("calibrate-scan", help="fit the one threshold of the judged report scan on the "
                       "complete cross-report dev questions of two corpora; write rag/answering/scan.json",
                       description="Judges every report for each complete aggregate question of "
                       "eval/cross-dev.jsonl and of the second corpus's cross-dev set, writes the rows to "
                       "eval/judge/scan-<corpus>.jsonl.gz and picks the lowest threshold reaching the stated "
                       "precision (eval/scan_fit.py).")
    _second_corpus(s, "eval/dragonball/cross-dev.jsonl", "its cross-report dev questions")
    s.add_argument("--precision", type=float, default=0.90,
                   help="the stated precision (default: %(default)s)")
    s.add_argument("--refit", action="store_true", help="choose from the row files already in eval/judge/")
    s.add_argument("--dry-run", action="store_true", help="print the figures; write no threshold")
    s.set_defaults(func=_calibrate_scan)


def _second_corpus(parser: argparse.ArgumentParser, gold: str, what: str) -> None:
    """--second and --second-gold: the other corpus a fit is made and tested on."""
    parser.add_argument("--second", type=Path, default=PROJECT_ROOT.parent / "shared/corpora/dragonball-zh",
                        help="folder of the second corpus (default: %(default)s)")
    parser.add_argument("--second-gold", type=Path, default=PROJECT_ROOT / gold,
                        help=f"{what} (default: %(default)s)")


# The functions below import what they use when the command runs, not at the top: this module is imported
# by `rag` at start-up, and eval.* pulls in numpy, faiss, torch (the encoder) and llama_cpp through rag.app.
# Keep `rag --help` fast.


def _subcommand_out(out: Path | None, name: str, cache_dir: Path, corpus, gold: Path,
                    limit: int | None = None, ids: int | None = None) -> tuple[Path, str]:
    """The result file of `rag eval retrieval|answers`, by the main command's rule: eval/results/<name>
    only for a full run on the bundled corpus and gold set, else a scratch (or own) folder; ``--out``
    inside eval/results/ is refused for the others."""
    from eval.conditions import load_conditions_file
    from eval.harness import corpus_label, matches_expectations, refuse_results_dir, results_folder

    bundled_corpus, bundled_gold = matches_expectations(load_conditions_file(), corpus, gold)
    if out is not None:
        refuse_results_dir(out, canonical=bundled_corpus and bundled_gold and not limit and not ids)
        return out, ""
    folder, note = results_folder(cache_dir, corpus_label(corpus), gold, bundled_corpus=bundled_corpus,
                                  bundled_gold=bundled_gold, limit=limit, ids=ids)
    return folder / name, note


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise RagError("--limit must be at least 1")


def _retrieval(args: argparse.Namespace) -> int:
    from embeddings.cache import EmbeddingCache
    from eval.retrieval import evaluate, format_by_type, format_table, load_gold, write_json
    from eval.runner import naive_retriever
    from rag.app import open_encoder, open_index
    from rag.corpus import load_corpus
    from rag.retrieval.chunking import chunk_config
    from rag.retrieval.index import build_index, load_index
    from rag.retrieval.retriever import Retriever

    _check_limit(args.limit)
    settings = Settings()
    items = [i for i in load_gold(args.gold) if i.answerable and i.sources]
    if args.limit:
        items = items[: args.limit]
    corpus = load_corpus(settings.data_dir)
    out, note = _subcommand_out(args.out, "retrieval.json", settings.cache_dir, corpus, args.gold,
                                limit=args.limit)
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
        naive = naive_retriever(corpus, encoder, settings.cache_dir)
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
            build_index(corpus, encoder, Path(tmp), cache, settings.embedding_model_id(),
                        cfg=chunk_config(settings), progress=False)
            timings["warm_rebuild_s"] = time.perf_counter() - t0
            cache.close()
        print(f"\nindex: {timings['n_chunks']} chunks; load {timings['index_load_s']:.2f} s; warm rebuild "
              f"(all embeddings cached) {timings['warm_rebuild_s']:.2f} s; last build "
              f"{timings['last_build_seconds']:.1f} s embedding {timings['last_build_embedded']} chunks")
    write_json(out, {"gold": str(args.gold), "n": len(items), "limit": args.limit, "conditions": report,
                     "timings": timings})
    print(f"\nper-question results: {out}{note}", file=sys.stderr)
    return 0


def _answers(args: argparse.Namespace) -> int:
    from eval.answers import by_type, format_summary, run, summarize, write
    from eval.retrieval import load_gold
    from rag.app import open_answer_service

    _check_limit(args.limit)
    settings = Settings()
    items = load_gold(args.gold)
    wanted = {i.strip() for i in args.ids.split(",") if i.strip()} if args.ids else set()
    if wanted:
        items = [i for i in items if i.id in wanted]
    if args.limit:
        items = items[: args.limit]
    service = open_answer_service(settings, with_llm=args.mode == "llm")
    name = f"{args.mode}-{service.model_name}" if args.mode == "llm" else "extractive"
    out, note = _subcommand_out(args.out, f"answers-{name}.json", settings.cache_dir, service.corpus,
                                args.gold, limit=args.limit, ids=len(wanted) or None)
    service.warm_up()
    records = run(service, items, args.mode, desc=name)
    summary = summarize(records)
    print(f"answers on {len(items)} gold questions ({args.gold.name})")
    print(format_summary(name, summary))
    for t, s in by_type(records).items():
        print(format_summary(f"  {t}", s))
    write(out, {"gold": str(args.gold), "condition": name, "limit": args.limit,
                "ids": sorted(wanted) or None, "summary": summary, "by_type": by_type(records),
                "records": [r.model_dump() for r in records]})
    print(f"per-question results: {out}{note}", file=sys.stderr)
    return 0


def _choose(conditions: dict, which: str) -> list:
    if which == "all":
        return list(conditions.values())
    if which == "ci":
        return [c for c in conditions.values() if c.ci]
    names = [n.strip() for n in which.split(",") if n.strip()]
    unknown = [n for n in names if n not in conditions]
    if unknown:
        known = ", ".join([*conditions, "all", "ci"])
        raise RagError(f"unknown condition(s) {', '.join(unknown)}; known: {known}")
    return [conditions[n] for n in names]


def eval_index_dir(settings: Settings, corpus) -> Path:
    """The index folder of a corpus other than the service's: under RAG_INDEX_DIR if set, else the cache
    dir, keyed by the corpus's content."""
    root = settings.index_dir if "index_dir" in settings.model_fields_set else settings.cache_dir
    return root / "eval-index" / corpus.content_hash[:16]


def eval_service(settings: Settings, folder: Path, encoder):
    """An extractive AnswerService over the report files of ``folder`` (loaded once), with that corpus's
    index: the service's own for the data dir, else one keyed by content (:func:`eval_index_dir`)."""
    from eval.runner import load_eval_corpus
    from rag import app
    from rag.answering.service import AnswerService
    from rag.config import DEFAULTS
    from rag.retrieval.retriever import Retriever

    corpus, _ = load_eval_corpus(folder)
    cs = settings.model_copy(update={"data_dir": folder.resolve()})
    if folder.resolve() != Path(settings.data_dir).resolve():
        cs = cs.model_copy(update={"index_dir": eval_index_dir(settings, corpus)})
    index, _ = app.open_index(cs, corpus=corpus, encoder=encoder)
    return AnswerService(Retriever(index, encoder), corpus, None, DEFAULTS.answer.model_copy())


def _calibrate(args: argparse.Namespace) -> int:
    from eval.calibrate import JUDGE_DIR, CorpusSpec, calibrate, collect_pairs, print_report, write_pairs
    from rag import app

    settings = Settings()
    tuning = (PROJECT_ROOT / "eval/gold.jsonl", PROJECT_ROOT / "eval/holdout.jsonl")
    specs = [CorpusSpec("bundled", settings.data_dir, tuning),
             CorpusSpec(args.second.name.split("-")[0] or "second", args.second, (args.second_gold,))]
    files = {s.name: JUDGE_DIR / f"pairs-{s.name}.jsonl.gz" for s in specs}
    if not args.refit:
        encoder = app.open_encoder(settings)
        for spec in specs:
            if not spec.folder.is_dir():
                raise RagError(f"corpus folder {spec.folder} not found (give --second, or --refit to fit "
                               f"from the pair files in {JUDGE_DIR})")
            service = eval_service(settings, spec.folder, encoder)
            write_pairs(collect_pairs(spec, service, service.corpus), files[spec.name])
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise RagError(f"no pair files {', '.join(missing)}: run `rag eval calibrate` without --refit first")
    print_report(calibrate(files, cost=args.cost, write=not args.dry_run))
    return 0


def _calibrate_scan(args: argparse.Namespace) -> int:
    from eval.calibrate import write_pairs
    from eval.scan_fit import JUDGE_DIR, ScanSpec, calibrate, collect, print_report
    from rag import app

    settings = Settings()
    specs = [ScanSpec("bundled", settings.data_dir, (PROJECT_ROOT / "eval/cross-dev.jsonl",)),
             ScanSpec(args.second.name.split("-")[0] or "second", args.second, (args.second_gold,))]
    files = {s.name: JUDGE_DIR / f"scan-{s.name}.jsonl.gz" for s in specs}
    if not args.refit:
        encoder = app.open_encoder(settings)
        for spec in specs:
            if not spec.folder.is_dir():
                raise RagError(f"corpus folder {spec.folder} not found (give --second, or --refit)")
            write_pairs(collect(spec, eval_service(settings, spec.folder, encoder)), files[spec.name])
    print_report(calibrate(files, args.precision, write=not args.dry_run))
    return 0


def _harness(args: argparse.Namespace) -> int:
    from eval import harness
    from eval.conditions import CONDITIONS_FILE, check_pins, flatten, load_conditions_file, resolved_tuned
    from eval.report import write_report
    from eval.retrieval import load_gold
    from eval.runner import Runner, load_eval_corpus

    conditions_path = args.conditions_file or CONDITIONS_FILE
    spec = load_conditions_file(conditions_path)
    conditions = spec.conditions
    chosen = _choose(conditions, args.condition)
    _check_limit(args.limit)
    if args.check and args.limit:
        raise RagError(f"--check with --limit: the expected scores in {conditions_path.name} were measured "
                       f"on the full question set, and the first {args.limit} questions are another sample "
                       "(their scores can differ by more than any tolerance without a regression). Run "
                       "--check without --limit, or --limit without --check to look at a subset.")
    settings = Settings()
    # before anything is loaded: a condition measured with other tuned values is refused (eval/README.md)
    check_pins(chosen, flatten(resolved_tuned(settings)), conditions_path)
    if not args.gold.is_file():
        raise RagError(f"gold file {args.gold} not found")
    items = load_gold(args.gold)  # a bad file: every problem with its file, line and field
    if args.limit:
        items = items[: args.limit]
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
    bundled_corpus, bundled_gold = harness.matches_expectations(spec, corpus, args.gold)
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

    if args.corpus:
        # another corpus gets its own index folder, keyed by content (never the service's index)
        settings = settings.model_copy(update={"index_dir": eval_index_dir(settings, corpus)})
    print(f"corpus {corpus_dir}: {len(corpus.files)} files, content hash {corpus.content_hash[:12]}; "
          f"index (built if missing or stale): {settings.index_dir}", file=sys.stderr)

    # conditions with a question set of their own are measured on it, whatever --gold says
    full_gold = bundled_gold or all(c.gold for c in chosen)
    if args.out:
        harness.refuse_results_dir(args.out, canonical=bundled_corpus and full_gold and not args.limit)
        out, where = args.out, ""
    else:
        out, where = harness.results_folder(settings.cache_dir, harness.corpus_label(corpus), args.gold,
                                            bundled_corpus=bundled_corpus, bundled_gold=full_gold,
                                            limit=args.limit)
    runner = Runner(settings, corpus=corpus, refused=refused)
    failures = harness.run_conditions(runner, chosen, items, out, args.check, limit=args.limit or None,
                                      gold=args.gold.resolve(), source=conditions_path)
    results = {p.stem: harness.load_result(p) for p in sorted(out.glob("*.json")) if p.stem in conditions}
    report = write_report(results, out)
    print(f"results: {out}/<condition>.json · report: {report}{where}", file=sys.stderr)
    if args.check:
        print(f"check: {failures} metric(s) outside tolerance" if failures
              else "check: all metrics within tolerance")
    return 1 if failures else 0


def _diff(args: argparse.Namespace) -> int:
    from eval.harness import describe, diff, load_result, provenance_warnings

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
