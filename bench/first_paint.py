"""First paint of the chat page in real headless Chromium, offline: cold loads and warm-cache loads.

    .venv/bin/python -m bench.first_paint [--loads 20] [--budget-ms 300]
    .venv/bin/python -m bench.first_paint --loads 10       # a quicker look

The app runs in this process on a free loopback port (testkit/live_server.py) with the fake answer service
(testkit/fakes.py: the bundled corpus, real BM25, a hashed-bigram encoder, no model weights), as the browser
tests run it; the browser is Debian's ``chromium`` driven by Playwright (testkit/browser.py). One untimed load
first, so that the browser's and the server's one-time start-up costs are not in the figures (a user's
browser is already running). Then:

* ``cold``: N loads, each in a new browser context (its own empty HTTP cache, no open connections);
* ``warm``: one context, loaded once untimed to fill its cache, then N loads in new pages of it.

Each load waits until the page says it is ready (``#status.ready``, after ``GET /readyz``) and reads
``first-paint`` and ``first-contentful-paint`` (``performance.getEntriesByType('paint')``),
``domContentLoadedEventEnd`` and ``loadEventEnd`` (the navigation entry), all in ms from the start of the
navigation; and, from Playwright's ``requestfinished`` / ``requestfailed`` events, the number of requests
and the bytes received for them (headers and body as they came over the wire: a response served from the
cache counts 0; ``cached`` is how many resources the page's Resource Timing says came from the cache).

Offline: the page may reach only the server's origin. Every request the page starts for anything else is
recorded and blocked. Both contexts send whatever is not the server to a proxy that refuses connections
(nothing leaves the machine, whatever the API); the cold contexts also block it with ``context.route``. The
warm context cannot: in Playwright any route disables the HTTP cache, which would make it cold again.

Writes eval/results/first-paint.json: p50/p95/max per metric and series, every load, every request outside
the origin, the command, commit and CPU (``provenance``), the load average and the Chromium version. Prints
a table. Exit status 1 when the p95 first paint of either series is at or over ``--budget-ms``, when any
request left for another origin, or when a load had no paint entry; so it can serve as a check. Not a test:
the figures depend on the machine and on what else it runs.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from tqdm import tqdm

from api.app import create_app
from eval.provenance import bench_provenance
from eval.retrieval import write_json
from rag.config import PROJECT_ROOT, Settings
from rag.corpus import load_corpus
from testkit.browser import chromium_path, launch_browser
from testkit.fakes import FakeAnswerService, build_fake_retriever
from testkit.live_server import live_server

OUT = PROJECT_ROOT / "eval" / "results" / "first-paint.json"

METRICS = {  # key: label in the table
    "first_paint_ms": "first-paint (ms)",
    "first_contentful_paint_ms": "first-contentful-paint (ms)",
    "dom_content_loaded_ms": "domContentLoadedEventEnd (ms)",
    "load_ms": "loadEventEnd (ms)",
    "bytes": "bytes received",
    "requests": "requests",
    "cached": "served from cache",
}

# Settled: the load event is over and the first contentful paint is recorded.
SETTLED_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return !!nav && nav.loadEventEnd > 0
    && performance.getEntriesByType('paint').some(e => e.name === 'first-contentful-paint');
}"""

TIMINGS_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
  const cached = [nav, ...performance.getEntriesByType('resource')]
    .filter(e => e.transferSize === 0 && e.decodedBodySize > 0).length;
  return {first_paint_ms: paint['first-paint'] ?? null,
          first_contentful_paint_ms: paint['first-contentful-paint'] ?? null,
          dom_content_loaded_ms: nav.domContentLoadedEventEnd, load_ms: nav.loadEventEnd, cached};
}"""


NETWORK_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)  # not data:, blob:, about: (in the page)


def _external(url: str, origin: str) -> bool:
    """A network URL outside ``origin`` (``http://127.0.0.1:PORT``; ws:// counts as the same origin)."""
    return bool(NETWORK_URL.match(url)) and not re.sub(r"^ws", "http", url).startswith(origin + "/")


def _pct(values: list[float], q: float) -> float | None:
    """Percentile by linear interpolation between the closest ranks (within min..max even for few loads)."""
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _summary(loads: list[dict]) -> dict[str, dict]:
    out = {}
    for key in METRICS:
        values = [load[key] for load in loads if load.get(key) is not None]
        out[key] = {"p50": _round(_pct(values, 50)), "p95": _round(_pct(values, 95)),
                    "max": _round(max(values)) if values else None, "n": len(values)}
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


class Bench:
    """The browser, the server's origin, and what each load saw."""

    def __init__(self, browser, origin: str, dead_proxy: str):
        self.browser = browser
        self.origin = origin
        port = origin.rsplit(":", 1)[1]
        # Only the server itself bypasses the proxy (host and port: another local service does not).
        self.proxy = {"server": dead_proxy, "bypass": f"127.0.0.1:{port}"}
        self.external: list[dict] = []
        self.page_errors: list[dict] = []

    def context(self, series: str, *, route: bool):
        context = self.browser.new_context(proxy=self.proxy, viewport={"width": 1280, "height": 860},
                                           locale="zh-CN")

        context.on("request", lambda r: self._record(series, r.url, r.resource_type))
        if route:  # aborted in Playwright's driver: the page's own requests do not wait on Python
            context.route(re.compile(rf"^(?!{re.escape(self.origin)}/)[a-z][a-z0-9+.-]*://"),
                          lambda r: r.abort("blockedbyclient"))
        return context

    def _record(self, series: str, url: str, resource_type: str) -> None:
        if _external(url, self.origin):
            self.external.append({"series": series, "url": url, "resource_type": resource_type})

    def load(self, context, series: str) -> dict:
        page = context.new_page()
        finished: list = []
        failed: list = []
        page.on("requestfinished", lambda r: finished.append(r))
        page.on("requestfailed", lambda r: failed.append(r))
        page.on("websocket", lambda ws: self._record(series, ws.url, "websocket"))
        page.on("pageerror", lambda e: self.page_errors.append({"series": series, "error": str(e)}))
        try:
            page.goto(self.origin + "/", wait_until="load", timeout=30_000)
            page.wait_for_selector("#status.ready", timeout=15_000)
            page.wait_for_function(SETTLED_JS, timeout=15_000)
            result = page.evaluate(TIMINGS_JS)
            received = 0
            for request in finished:
                sizes = request.sizes()
                received += max(0, sizes["responseHeadersSize"] + sizes["responseBodySize"])
        finally:
            page.close()
        return {**{k: _round(v) if k.endswith("_ms") else v for k, v in result.items()},
                "bytes": received, "requests": len(finished) + len(failed), "failed": len(failed),
                "urls": sorted(r.url.removeprefix(self.origin) for r in finished + failed)}


def _app(tmp: Path):
    corpus = load_corpus(PROJECT_ROOT / "data")
    service = FakeAnswerService(corpus, build_fake_retriever(corpus))
    settings = Settings(models_dir=tmp / "models", cache_dir=tmp / "cache", index_dir=tmp / "index",
                        library_dir=tmp / "library", _env_file=None)
    return create_app(settings, service=service)


def _table(series: dict[str, dict]) -> str:
    names = list(series)
    head = f"{'':32}" + "".join(f"{name + ' p50':>12}{'p95':>9}{'max':>9}" for name in names)
    lines = [head]
    for key, label in METRICS.items():
        row = f"{label:32}"
        for name in names:
            s = series[name]["summary"][key]
            row += "".join(f"{'—' if v is None else f'{v:.0f}':>{w}}"
                           for v, w in ((s["p50"], 12), (s["p95"], 9), (s["max"], 9)))
        lines.append(row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=20, help="timed loads per series (default 20)")
    parser.add_argument("--budget-ms", type=float, default=300,
                        help="fail when p95 first paint reaches this (default 300)")
    parser.add_argument("--out", type=Path, default=OUT,
                        help=f"result file (default {OUT.relative_to(PROJECT_ROOT)})")
    args = parser.parse_args(argv)
    provenance = bench_provenance(sys.argv[1:] if argv is None else argv)
    if args.loads < 1:
        parser.error("--loads must be at least 1")

    try:
        chromium = chromium_path()
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        print(f"error: {exc.msg}", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    print("building the app (bundled corpus, fake answer service) …", file=sys.stderr)
    with (tempfile.TemporaryDirectory(prefix="rag-first-paint-") as tmp,
          closing(socket.socket()) as dead,  # bound, never listening: connections to it are refused
          live_server(_app(Path(tmp))) as origin,
          sync_playwright() as playwright):
        dead.bind(("127.0.0.1", 0))
        browser = launch_browser(playwright)
        bench = Bench(browser, origin, f"http://127.0.0.1:{dead.getsockname()[1]}")
        series: dict[str, dict] = {"cold": {"loads": []}, "warm": {"loads": []}}
        with tqdm(total=2 * args.loads, desc="cold loads", unit="load") as bar:
            context = bench.context("untimed", route=True)
            untimed = bench.load(context, "untimed")
            context.close()
            for _ in range(args.loads):
                context = bench.context("cold", route=True)
                series["cold"]["loads"].append(bench.load(context, "cold"))
                context.close()
                bar.update(1)
            bar.set_description("warm loads")
            context = bench.context("warm", route=False)
            bench.load(context, "warm")  # fills the cache
            for _ in range(args.loads):
                series["warm"]["loads"].append(bench.load(context, "warm"))
                bar.update(1)
            context.close()
        version = browser.version
        browser.close()

    for s in series.values():
        s["summary"] = _summary(s["loads"])
    failures = []
    for name, s in series.items():
        p95 = s["summary"]["first_paint_ms"]["p95"]
        missing = sum(load["first_paint_ms"] is None for load in s["loads"])
        if missing:
            failures.append(f"{name}: {missing} of {len(s['loads'])} loads recorded no first-paint entry")
        if p95 is not None and p95 >= args.budget_ms:
            failures.append(f"{name}: p95 first paint {p95:.0f} ms is not under the budget of "
                            f"{args.budget_ms:.0f} ms")
    if bench.external:
        urls = sorted({e["url"] for e in bench.external})
        failures.append(f"{len(bench.external)} request(s) to another origin than the server (blocked): "
                        + ", ".join(urls[:5]) + (" …" if len(urls) > 5 else ""))

    result = {
        "provenance": provenance,
        "loads": args.loads,
        "budget_ms": args.budget_ms,
        "passed": not failures,
        "failures": failures,
        "series": {name: {"description": desc, **series[name]} for name, desc in (
            ("cold", "each load in a new browser context: empty HTTP cache, new connections"),
            ("warm", "one context, loaded once untimed first; each load in a new page of it"))},
        "untimed_first_load": untimed,
        "external_requests": bench.external,
        "page_errors": bench.page_errors,
        "browser": {"load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()],
                    "chromium": version, "chromium_path": chromium, "playwright": _version("playwright")},
    }
    write_json(args.out, result)

    m, b, git = provenance["machine"], result["browser"], provenance["git"]
    print(f"\nchat page first paint: {args.loads} cold + {args.loads} warm loads; Chromium {version}, "
          f"{m['cpu']} × {m['cpus_usable']}, load average {b['load_average_before'][0]:.2f} before, "
          f"{b['load_average_after'][0]:.2f} after; commit {(git.get('commit') or '?')[:10]}"
          f"{' (dirty tree)' if git.get('dirty') else ''}")
    print(_table(series))
    print(f"requests to other origins: {len(bench.external)}; page errors: {len(bench.page_errors)}")
    print(f"written: {args.out}", file=sys.stderr)
    if failures:
        for failure in failures:
            print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    print(f"OK: p95 first paint under {args.budget_ms:.0f} ms in both series; no request left the server's "
          "origin", file=sys.stderr)
    return 0


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
