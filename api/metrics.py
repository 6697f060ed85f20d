"""Prometheus metrics in the text exposition format (version 0.0.4), written by hand.

A handful of counters and histograms do not justify a client library. Request metrics are labelled by
route template (``/v1/reports/{report_id}``), never by raw path, so label sets stay bounded.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.contracts import Answer

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


class Histogram:
    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: tuple[tuple[str, str], ...]) -> list[str]:
        out, cumulative = [], 0
        for bound, n in zip((*self.buckets, float("inf")), self.counts, strict=True):
            cumulative += n
            le = "+Inf" if bound == float("inf") else _num(bound)
            out.append(f"{name}_bucket{_labels((*labels, ('le', le)))} {cumulative}")
        out.append(f"{name}_sum{_labels(labels)} {_num(self.sum)}")
        out.append(f"{name}_count{_labels(labels)} {self.count}")
        return out


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)
        self.latency: dict[tuple[tuple[str, str], ...], Histogram] = defaultdict(Histogram)
        self.first_token = Histogram()
        self.answers: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)
        self.completion_tokens = 0
        self.generation_seconds = 0.0
        self.last_tokens_per_second = 0.0
        self.started = time.time()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(("method", method), ("route", route), ("status", str(status)))] += 1
            self.latency[(("route", route),)].observe(seconds)

    def observe_answer(self, answer: Answer) -> None:
        """Token throughput counts decoding only: from the first token to the end of the answer."""
        t = answer.timings
        with self._lock:
            self.answers[(("mode", answer.mode), ("refused", str(answer.refused).lower()))] += 1
            if t.first_token_ms is not None:
                self.first_token.observe(t.first_token_ms / 1000)
                decode_s = max(0.0, (t.total_ms - t.first_token_ms) / 1000)
                if t.completion_tokens and decode_s > 0:
                    self.completion_tokens += t.completion_tokens
                    self.generation_seconds += decode_s
                    self.last_tokens_per_second = t.completion_tokens / decode_s

    def render(self, *, queue_depth: int, queue_size: int, busy: bool, ready: bool,
               jobs: dict[str, int]) -> str:
        lines: list[str] = []

        def family(name: str, kind: str, help_: str) -> None:
            lines.append(f"# HELP {name} {help_}")
            lines.append(f"# TYPE {name} {kind}")

        with self._lock:
            family("rag_http_requests_total", "counter", "HTTP requests by method, route and status.")
            for labels, n in sorted(self.requests.items()):
                lines.append(f"rag_http_requests_total{_labels(labels)} {n}")
            family("rag_http_request_duration_seconds", "histogram",
                   "Time from request to the last byte of the response (streams included).")
            for labels, hist in sorted(self.latency.items()):
                lines.extend(hist.lines("rag_http_request_duration_seconds", labels))
            family("rag_answers_total", "counter", "Answers by mode and refusal.")
            for labels, n in sorted(self.answers.items()):
                lines.append(f"rag_answers_total{_labels(labels)} {n}")
            family("rag_answer_first_token_seconds", "histogram", "From the question to the first LLM token.")
            lines.extend(self.first_token.lines("rag_answer_first_token_seconds", ()))
            family("rag_llm_completion_tokens_total", "counter", "Tokens the LLM generated.")
            lines.append(f"rag_llm_completion_tokens_total {self.completion_tokens}")
            family("rag_llm_generation_seconds_total", "counter", "Time spent decoding those tokens.")
            lines.append(f"rag_llm_generation_seconds_total {_num(self.generation_seconds)}")
            family("rag_llm_tokens_per_second", "gauge", "Decoding speed of the last answer.")
            lines.append(f"rag_llm_tokens_per_second {_num(self.last_tokens_per_second)}")
        family("rag_llm_queue_depth", "gauge", "Questions waiting for the LLM worker.")
        lines.append(f"rag_llm_queue_depth {queue_depth}")
        family("rag_llm_queue_capacity", "gauge", "Questions that may wait before new ones get 503.")
        lines.append(f"rag_llm_queue_capacity {queue_size}")
        family("rag_llm_busy", "gauge", "1 while the LLM worker runs a job.")
        lines.append(f"rag_llm_busy {int(busy)}")
        family("rag_llm_jobs_total", "counter", "LLM jobs by outcome (rejected = queue full).")
        for outcome, n in sorted(jobs.items()):
            lines.append(f"rag_llm_jobs_total{_labels([('outcome', outcome)])} {n}")
        family("rag_ready", "gauge", "1 once models, index and LLM are loaded.")
        lines.append(f"rag_ready {int(ready)}")
        family("rag_process_start_time_seconds", "gauge", "Unix time the service started.")
        lines.append(f"rag_process_start_time_seconds {_num(round(self.started, 3))}")
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Counts every HTTP request (413s and 404s too) once its response has been fully sent."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            path = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], path, status, time.perf_counter() - t0)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                record()

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            record()  # also when the client vanished mid-stream
