"""Where serving memory goes, and whether it stays flat.

    .venv/bin/python -m bench.memory breakdown             # load the service step by step in this process
    .venv/bin/python -m bench.memory serve [--questions 500] [--mode llm|extractive]

``breakdown`` loads what ``rag serve`` loads, one part at a time, and records the process's resident
memory after each (anonymous pages: heap, tensors, KV cache; file pages: mapped weights and libraries)
with Python's own allocations (tracemalloc), then asks 20 questions. ``serve`` starts ``rag serve`` on a
free port (the machine's models and index, a scratch library), asks the gold questions in turn over
``POST /v1/ask`` and samples the server's RSS every 10 answers; at the end it groups the server's mappings
(/proc/PID/smaps) by what they are. Both write ``eval/results/memory-<command>.json``. Not tests: the
figures depend on the machine; eval/README.md quotes them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

import httpx
from tqdm import tqdm

from eval.provenance import bench_provenance
from eval.retrieval import write_json
from testkit.serve_process import ServeProcess, memory_kb

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "eval" / "results"


def status_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS, RssAnon, RssFile and VmHWM (peak) in MB."""
    kb = memory_kb(pid, ("VmRSS", "RssAnon", "RssFile", "VmHWM"))
    return {key: round(value / 1024, 1) for key, value in kb.items()}


def smaps_by_kind(pid: int | str = "self") -> dict[str, float]:
    """Resident MB per kind of mapping: each model file, torch, llama.cpp, other libraries, the heap and
    anonymous memory (tensors, arenas, the KV cache)."""
    kinds: dict[str, float] = defaultdict(float)
    name = "?"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            parts = line.split(None, 5)
            name = parts[5] if len(parts) > 5 else ""
        elif line.startswith("Rss:"):
            kinds[_kind(name)] += int(line.split()[1]) / 1024
    return {k: round(v, 1) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]) if v >= 1}


def _kind(path: str) -> str:
    if not path:
        return "anonymous (tensors, arenas, KV cache)"
    if path == "[heap]":
        return "[heap] (malloc)"
    if path.endswith((".gguf", ".safetensors", ".faiss")):
        return Path(path).name
    if "torch" in path:
        return "torch libraries"
    if "llama_cpp" in path:
        return "llama.cpp libraries"
    if path.startswith("["):
        return "other [stack/vdso]"
    return "other libraries and files"


def _questions() -> list[str]:
    lines = (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def breakdown(args: argparse.Namespace) -> dict:
    steps: list[dict] = []

    def record(step: str) -> None:
        gc.collect()
        mem = status_mb()
        python_mb = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
        prev = steps[-1] if steps else {"VmRSS": 0.0, "RssAnon": 0.0, "RssFile": 0.0}
        steps.append({"step": step, **mem, "python_mb": python_mb,
                      "delta_rss": round(mem["VmRSS"] - prev["VmRSS"], 1),
                      "delta_anon": round(mem["RssAnon"] - prev["RssAnon"], 1),
                      "delta_file": round(mem["RssFile"] - prev["RssFile"], 1)})
        last = steps[-1]
        print(f"{step:52} RSS {mem['VmRSS']:7.0f} MB  (+{last['delta_rss']:6.0f}: "
              f"anon {last['delta_anon']:+6.0f}, file {last['delta_file']:+6.0f}) python {python_mb:6.0f} MB",
              file=sys.stderr)

    record("interpreter")
    import faiss  # noqa: F401
    import llama_cpp  # noqa: F401
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401

    from embeddings.protocol import release_passage_model
    from rag.answering.service import AnswerService
    from rag.app import open_encoder, open_generator, open_version
    from rag.config import Settings
    from rag.retrieval.retriever import Retriever

    record("libraries imported (torch, llama.cpp, faiss, the app)")
    tracemalloc.start()
    settings = Settings()
    encoder = open_encoder(settings)
    record("embedding model loaded")
    version, index = open_version(settings, encoder=encoder, progress=False)
    record("corpus and index loaded (chunks, BM25 tokens, FAISS)")
    generator = None if args.mode == "extractive" else open_generator(settings)
    record("LLM loaded")
    service = AnswerService(Retriever(index, encoder), version.corpus, generator)
    record("answer service built (BM25, IDF, scanners)")
    if args.keep_passage_model:
        encoder.encode_queries(["预热"])
        record("first query embedded (bf16 query copy made beside fp32)")
    else:
        release_passage_model(encoder)
        record("encoder kept as one bf16 copy (as rag serve does)")
    service.warm_up()
    record("warmed up (first query, system prompt evaluated)")
    for q in tqdm(_questions()[:20], desc="questions", unit="q"):
        service.ask(q, mode=args.mode)
    record("after 20 questions")
    return {"command": "breakdown", "mode": args.mode, "steps": steps, "smaps": smaps_by_kind(),
            "gc_pause": gc_pause()}


def gc_pause() -> dict:
    """How long a full cyclic collection stalls the process (GIL held) with the service loaded, before
    and after api.heap.settle (what rag serve does once loaded)."""
    from api import heap

    def full_collection_ms() -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            gc.collect()
            times.append((time.perf_counter() - started) * 1000)
        return round(statistics.median(times), 1)

    out = {"tracked_objects": len(gc.get_objects()), "full_collection_ms": full_collection_ms()}
    heap.settle()
    out.update(frozen_objects=gc.get_freeze_count(), full_collection_ms_after_settle=full_collection_ms())
    print(f"full GC: {out['full_collection_ms']} ms over {out['tracked_objects']:,} objects; after settle "
          f"{out['full_collection_ms_after_settle']} ms ({out['frozen_objects']:,} frozen)", file=sys.stderr)
    return out


def serve(args: argparse.Namespace) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="rag-memory-"))
    print("starting rag serve …", file=sys.stderr)
    server = ServeProcess({**os.environ, "RAG_LIBRARY_DIR": str(scratch / "library")}, scratch / "serve.log")
    questions = _questions()
    samples: list[dict] = []
    try:
        samples.append({"answered": 0, **status_mb(server.proc.pid)})
        with httpx.Client(timeout=600) as client:
            for i in tqdm(range(args.questions), desc=f"questions ({args.mode})", unit="q"):
                r = client.post(f"{server.url}/v1/ask", json={"question": questions[i % len(questions)],
                                                               "mode": args.mode})
                if r.status_code != 200:
                    raise RuntimeError(f"question {i} answered {r.status_code}: {r.text[:300]}")
                if (i + 1) % args.sample_every == 0 or i + 1 == args.questions:
                    samples.append({"answered": i + 1, **status_mb(server.proc.pid)})
        smaps = smaps_by_kind(server.proc.pid)
    finally:
        server.stop()
    at = {s["answered"]: s["VmRSS"] for s in samples}
    later = [s["VmRSS"] for s in samples if s["answered"] >= min(50, args.questions)]
    result = {"command": "serve", "mode": args.mode, "questions": args.questions,
              "rss_after_50_mb": at.get(50), "rss_end_mb": samples[-1]["VmRSS"],
              "growth_after_50_mb": round(max(later) - later[0], 1) if later else None,
              "peak_mb": samples[-1]["VmHWM"], "samples": samples, "smaps": smaps}
    print(f"\nrag serve RSS: after warm-up {samples[0]['VmRSS']:.0f} MB, after 50 questions {at.get(50)} MB, "
          f"after {args.questions} {samples[-1]['VmRSS']:.0f} MB (peak {samples[-1]['VmHWM']:.0f} MB); "
          f"growth after question 50: {result['growth_after_50_mb']} MB", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("breakdown", help="load the service step by step in this process")
    b.add_argument("--mode", choices=["llm", "extractive"], default="llm")
    b.add_argument("--keep-passage-model", action="store_true",
                   help="keep the fp32 copy beside the bf16 query copy (as before issue 17; as `rag eval`)")
    s = sub.add_parser("serve", help="rag serve's RSS over many questions")
    s.add_argument("--questions", type=int, default=500)
    s.add_argument("--mode", choices=["llm", "extractive"], default="llm")
    s.add_argument("--sample-every", type=int, default=10)
    args = parser.parse_args(argv)
    provenance = bench_provenance(sys.argv[1:] if argv is None else argv)
    result = breakdown(args) if args.command == "breakdown" else serve(args)
    result["provenance"] = provenance
    out = OUT / f"memory-{args.command}-{args.mode}.json"
    write_json(out, result)
    print(json.dumps(result.get("smaps"), ensure_ascii=False, indent=2))
    print(f"written: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
