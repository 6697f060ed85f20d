"""Load benchmark: N concurrent answer streams against the real service for a fixed time.

    .venv/bin/python -m bench.load [--streams 16] [--seconds 240] [--url http://127.0.0.1:8000 --pid PID]

Without ``--url`` it starts ``rag serve`` itself (the machine's models and index, a scratch library) on a
free port and stops it afterwards. Each client asks the gold questions in turn over ``POST /v1/ask/stream``
and, when refused with 503, waits what ``Retry-After`` says (at most 10 s), as a polite client would.

Prints: responses by status (and how many 503s carried Retry-After), time to the evidence event and to
the first token (p50/p95), whole answers, stream errors, and the server's RSS at the start, its peak
during the run, and at the end. Not a test: the figures depend on the machine; eval/README.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from tqdm import tqdm

from testkit.serve_process import ServeProcess, memory_kb, reset_peak

ROOT = Path(__file__).resolve().parent.parent


def _questions() -> list[str]:
    lines = (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def _pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else values[0]


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: Counter[int] = Counter()
        self.retry_after = 0
        self.evidence_ms: list[float] = []
        self.first_token_ms: list[float] = []
        self.total_ms: list[float] = []
        self.answers = 0
        self.stream_errors = 0
        self.transport_errors = 0


def _client(url: str, questions: list[str], offset: int, deadline: float, stats: Stats) -> None:
    i = offset
    with httpx.Client(timeout=300) as c:
        while time.monotonic() < deadline:
            question = questions[i % len(questions)]
            i += 1
            t0 = time.perf_counter()
            try:
                with c.stream("POST", f"{url}/v1/ask/stream", json={"question": question}) as r:
                    with stats.lock:
                        stats.status[r.status_code] += 1
                    if r.status_code != 200:
                        r.read()
                        wait = r.headers.get("Retry-After")
                        with stats.lock:
                            stats.retry_after += wait is not None
                        time.sleep(min(float(wait or 1), 10.0))
                        continue
                    event, first_token = None, False
                    for line in r.iter_lines():
                        if line.startswith("event:"):
                            event = line[6:].strip()
                            ms = (time.perf_counter() - t0) * 1000
                            with stats.lock:
                                if event == "evidence":
                                    stats.evidence_ms.append(ms)
                                elif event == "token" and not first_token:
                                    first_token = True
                                    stats.first_token_ms.append(ms)
                                elif event == "answer":
                                    stats.answers += 1
                                    stats.total_ms.append(ms)
                                elif event == "error":
                                    stats.stream_errors += 1
            except httpx.HTTPError:
                with stats.lock:
                    stats.transport_errors += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--seconds", type=float, default=240, help="how long to run (default 240)")
    parser.add_argument("--url", help="a running service (default: start `rag serve` here)")
    parser.add_argument("--pid", type=int, help="its process id, for RSS (with --url)")
    args = parser.parse_args(argv)

    server = None
    scratch = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    if args.url:
        url, pid = args.url.rstrip("/"), args.pid
    else:
        print("starting rag serve …", file=sys.stderr)
        server = ServeProcess({**os.environ, "RAG_LIBRARY_DIR": str(scratch / "library")},
                              scratch / "serve.log")
        url, pid = server.url, server.proc.pid
    try:
        questions = _questions()
        httpx.post(f"{url}/v1/ask", json={"question": questions[0]}, timeout=300)  # first-use costs
        rss_start = memory_kb(pid)["VmRSS"] if pid else None
        if pid:
            reset_peak(pid)  # peak (VmHWM) from now on
        stats = Stats()
        deadline = time.monotonic() + args.seconds
        threads = [threading.Thread(target=_client, args=(url, questions, i * 7, deadline, stats),
                                    daemon=True) for i in range(args.streams)]
        for t in threads:
            t.start()
        with tqdm(total=int(args.seconds), desc=f"{args.streams} streams", unit="s") as bar:
            while time.monotonic() < deadline:
                time.sleep(1)
                bar.update(1)
                bar.set_postfix(answers=stats.answers, busy=stats.status.get(503, 0))
        for t in threads:
            t.join(600)
        mem = memory_kb(pid) if pid else None
    finally:
        if server is not None:
            server.stop()

    print(f"\n{args.streams} concurrent streams for {args.seconds:.0f} s against {url}")
    print("statuses: " + ", ".join(f"{code} × {n}" for code, n in sorted(stats.status.items())) +
          f"; 503 with Retry-After: {stats.retry_after} of {stats.status.get(503, 0)}")
    print(f"answers: {stats.answers} ({stats.answers / args.seconds * 60:.1f} per minute); stream errors "
          f"{stats.stream_errors}; transport errors {stats.transport_errors}")
    for name, values in (("evidence", stats.evidence_ms), ("first token", stats.first_token_ms),
                         ("whole answer", stats.total_ms)):
        print(f"{name:>12}: p50 {_pct(values, 50) / 1000:.2f} s, p95 {_pct(values, 95) / 1000:.2f} s "
              f"(n={len(values)})")
    if mem and rss_start:
        print(f"server RSS: start {rss_start / 1024:.0f} MB, peak {mem['VmHWM'] / 1024:.0f} MB, "
              f"end {mem['VmRSS'] / 1024:.0f} MB")
    return 0 if not stats.transport_errors and not stats.stream_errors and not stats.status.get(500) else 1


if __name__ == "__main__":
    raise SystemExit(main())
