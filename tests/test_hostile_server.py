"""The real service (`rag serve`, real models, its own process) under hostile clients (slow; runs in CI):

* the worst single requests, one at a time, while /healthz is polled: its p99 stays within a small
  multiple of the idle server's /healthz p50, measured first in the same run (no milliseconds: CPUs
  differ); and hostile requests (bombs, huge bodies, long queries and histories): none gets a 5xx, and
  none grows the server's resident memory by more than 200 MB (run first: schemathesis then deletes
  reports);
* a bounded schemathesis run against its OpenAPI document — every operation, a few of them generating
  with the LLM — that fails on any 5xx, any response that does not match the document, or any response
  slower than a multiple of the server's own warm-up answer, timed in the same run.

The server gets its own library and index folders (schemathesis adds and deletes reports) and an API
key (so the auth checks have something to check); models and the embedding cache are the machine's.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from testkit.environ import without_rag_settings
from testkit.serve_process import ServeProcess
from tests import hostile

pytestmark = pytest.mark.slow

KEY = "hostile-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
QUESTION = "县水利局下半年在资金管理上有什么安排？"
FIGURE_QUESTION = "市自然资源局2023年党风廉政建设工作中，全系统干部职工签订了多少份干部家属廉政承诺书？"
RSS_GROWTH_MAX_MB = 200
# A blocked event loop shows in /healthz as a stall: the full GC pause this test once caught (262 ms on a
# 2.8 GHz Xeon) was 175× the idle p50; under the worst requests without it, p99 is ≈10× (the request's own
# threads share 2 cores). 40× sits between, on any CPU.
HEALTHZ_STALL = 40


@pytest.fixture(scope="module")
def server(tmp_path_factory, real_index_dir) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(real_index_dir, root / "index")  # its own copy: schemathesis changes the library
    env = without_rag_settings(RAG_LIBRARY_DIR=str(root / "library"), RAG_INDEX_DIR=str(root / "index"),
                               RAG_API_KEY=KEY, RAG_WRITE_WAIT_S="20")
    server = ServeProcess(env, root / "serve.log")
    try:
        # one real answer, so first-use costs (KV cache of the system prompt …) are paid before measuring
        httpx.post(f"{server.url}/v1/ask", json={"question": QUESTION}, headers=AUTH, timeout=300)
        yield server
    finally:
        server.stop()
        server_errors = [line for line in server.log.read_text(errors="replace").splitlines()
                         if '" 500 ' in line or "Traceback" in line]
        assert not server_errors, server_errors[:5]


@dataclass(frozen=True)
class Yardsticks:
    """What the limits are multiples of, measured on this machine in this run."""

    answer_s: float  # a warm LLM answer to a short question
    idle_healthz_ms: float  # /healthz p50 while nothing else runs


@pytest.fixture(scope="module")
def yardsticks(server) -> Yardsticks:
    t0 = time.perf_counter()  # a question with a one-figure answer (a summary question runs 2× longer)
    httpx.post(f"{server.url}/v1/ask", json={"question": FIGURE_QUESTION}, headers=AUTH,
               timeout=300).raise_for_status()
    answer_s = time.perf_counter() - t0
    samples: list[float] = []
    stop = threading.Event()
    threading.Timer(3.0, stop.set).start()
    _poll_healthz(server.url, stop, samples)
    return Yardsticks(answer_s=answer_s, idle_healthz_ms=statistics.median(samples))


# -- the event loop never stalls ------------------------------------------------------------------------


def _poll_healthz(url: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(timeout=10) as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            r = c.get(f"{url}/healthz")
            out.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200
            time.sleep(0.01)


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) >= 100 else max(samples)


def _worst_requests(url: str) -> dict[str, Callable[[httpx.Client], httpx.Response]]:
    long_query = ("县水利局下半年在资金管理上有什么安排" * 200)[:2000]
    history = [{"role": "user", "content": "水" * 11_000}, {"role": "assistant", "content": "1 " * 5_000}]
    bomb, text_bomb = hostile.bomb_docx(40), hostile.text_bomb_docx(11)

    def upload(name: str, data: bytes):
        return lambda c: c.post(f"{url}/v1/reports", files=[("files", (name, data))], headers=AUTH)

    return {
        "2,000-character search": lambda c: c.get(f"{url}/v1/search", params={"q": long_query, "k": 50},
                                                  headers=AUTH),
        "24,000-character conversation, extractive": lambda c: c.post(
            f"{url}/v1/ask", headers=AUTH,
            json={"question": "那" + long_query[:1900], "history": history, "mode": "extractive"}),
        "whitespace-heavy history (was 41 s)": lambda c: c.post(
            f"{url}/v1/ask", headers=AUTH, json={"question": "那下半年呢？", "mode": "extractive",
                                                 "history": [{"role": "user", "content": " " * 20_000}]}),
        "streamed answer with the LLM": lambda c: c.post(f"{url}/v1/ask/stream", json={"question": QUESTION},
                                                         headers=AUTH),
        "40 MB .docx bomb": upload("炸弹.docx", bomb),
        "11 MB of text in a .docx": upload("文本.docx", text_bomb),
        "2 MB body of malformed JSON": lambda c: c.post(
            f"{url}/v1/ask", content=b"[" * 2_000_000, headers={**AUTH, "Content-Type": "application/json"}),
    }


def test_healthz_stays_fast_and_memory_flat_under_the_worst_requests(server, yardsticks):
    report = []
    with httpx.Client(timeout=300) as c:
        for name, send in _worst_requests(server.url).items():
            samples: list[float] = []
            stop = threading.Event()
            poller = threading.Thread(target=_poll_healthz, args=(server.url, stop, samples))
            server.reset_peak()
            rss_before = server.rss_mb()
            poller.start()
            t0 = time.perf_counter()
            r = send(c)
            took = time.perf_counter() - t0
            time.sleep(0.2)
            stop.set()
            poller.join()
            growth = server.peak_mb() - rss_before
            stall = _p99(samples) / yardsticks.idle_healthz_ms
            report.append(f"{name}: {r.status_code} in {took:.2f} s; /healthz p99 {_p99(samples):.1f} ms "
                          f"= {stall:.1f}× idle over {len(samples)} polls; RSS {rss_before:.0f} MB, peak "
                          f"+{growth:.0f} MB, after {server.rss_mb() - rss_before:+.0f} MB")
            assert r.status_code < 500, (name, r.text[:300])
            assert stall < HEALTHZ_STALL, report[-1]
            assert growth < RSS_GROWTH_MAX_MB, report[-1]
    print(f"idle /healthz p50 {yardsticks.idle_healthz_ms:.2f} ms; a warm answer {yardsticks.answer_s:.1f} s")
    print("\n".join(report))


# -- schemathesis -----------------------------------------------------------------------------------------

ST_COMMON = ["--checks", "all", "--workers", "1", "--request-timeout", "300",
             "-H", f"Authorization: Bearer {KEY}", "--suppress-health-check", "all", "--no-shrink",
             "--seed", "13"]
GENERATING = r"^/v1/(ask|chat/completions)"


def _schemathesis(server: ServeProcess, tmp_path: Path, name: str, *args: str) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    assert st, "schemathesis is a dev dependency: pip install -e '.[dev]'"
    run = subprocess.run([st, "run", f"{server.url}/openapi.json", *ST_COMMON, *args,
                          "--report", "junit", "--report-dir", str(tmp_path / name)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=900)
    summary = run.stdout[-6000:]
    print(summary)
    assert run.returncode == 0, summary + run.stderr[-2000:]
    assert "generated" in summary and "Failures:" not in summary and "Errors:" not in summary, summary


def test_schemathesis_finds_no_5xx_and_no_schema_mismatch(server, yardsticks, tmp_path):
    def limit(answers: float) -> str:  # seconds: ``answers`` times the server's warm answer
        return f"{answers * yardsticks.answer_s:.1f}"

    # Response-time limits are multiples of the warm answer timed in the fixture, never seconds (`--checks
    # all` alone would allow 10 s, which a slower CPU misses on an upload or a long generated question).
    # Reading and writing operations, every phase (the stateful phase uploads and deletes reports): no read
    # may take as long as two answers (the slowest, a 2,000-character search, embeds its query).
    _schemathesis(server, tmp_path, "reads", "--exclude-path-regex", GENERATING,
                  "--exclude-path", "/v1/reports", "--exclude-path", "/v1/reports/stream",
                  "--max-time", "30", "--max-response-time", limit(2))
    # Uploads: the schema cannot say which bytes and names make a report, so a valid-looking upload may
    # be refused with 422 — every other check applies. An upload embeds its chunks and saves the index.
    _schemathesis(server, tmp_path, "uploads", "--include-name", "POST /v1/reports",
                  "--exclude-checks", "positive_data_acceptance", "--max-time", "15",
                  "--max-response-time", limit(10))
    # A few generating operations. OpenAI's message schema cannot say "ends with a non-empty user question",
    # so a valid-looking chat request may be refused with 422. A long generated question makes a long
    # prompt (3× a warm answer seen); a hang still fails.
    _schemathesis(server, tmp_path, "answers", "--include-path-regex", GENERATING, "--max-examples", "3",
                  "--phases", "examples,fuzzing", "--max-time", "40",
                  "--exclude-checks", "positive_data_acceptance",
                  "--max-response-time", limit(10))
