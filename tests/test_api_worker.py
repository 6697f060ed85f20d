"""The single LLM worker on its own: ordering, errors, a full queue, cancellation and shutdown."""

from __future__ import annotations

import asyncio
import threading

import pytest

from api.errors import ServiceBusy
from api.worker import LLMWorker


def run(coro):
    return asyncio.run(coro)


def test_jobs_run_in_order_one_at_a_time_and_errors_reach_the_caller():
    async def main():
        worker = LLMWorker(queue_size=4)
        worker.start()
        seen: list[str] = []
        active = 0
        peak = 0

        def job(name: str, fail: bool = False):
            def fn(cancel):
                nonlocal active, peak
                active += 1
                peak = max(peak, active)
                seen.append(name)
                try:
                    yield f"{name}:1"
                    if fail:
                        raise ValueError(f"{name} broke")
                    yield f"{name}:2"
                finally:
                    active -= 1
            return fn

        jobs = [worker.submit(job("a")), worker.submit(job("b", fail=True)), worker.submit(job("c"))]
        results = []
        for j in jobs:
            try:
                results.append([x async for x in j.events()])
            except ValueError as exc:
                results.append(str(exc))
        worker.close()
        return seen, peak, results, worker.jobs_total

    seen, peak, results, totals = run(main())
    assert seen == ["a", "b", "c"] and peak == 1
    assert results == [["a:1", "a:2"], "b broke", ["c:1", "c:2"]]
    assert totals["ok"] == 2 and totals["error"] == 1


def test_a_full_queue_refuses_with_retry_after_and_close_cancels_everything():
    async def main():
        worker = LLMWorker(queue_size=1)
        worker.start()
        release = threading.Event()
        saw_cancel = threading.Event()

        def blocking(cancel):
            while not cancel.is_set() and not release.is_set():
                cancel.wait(0.01)
            if cancel.is_set():
                saw_cancel.set()
            yield "done"

        running = worker.submit(blocking)
        await asyncio.to_thread(running.started.wait, 5)
        queued = worker.submit(blocking)
        with pytest.raises(ServiceBusy) as busy:
            worker.submit(blocking)
        await asyncio.to_thread(worker.close, 5)
        leftovers = [x async for x in queued.events()]
        return busy.value, saw_cancel.is_set(), queued.outcome, leftovers, worker.jobs_total

    busy, cancelled, queued_outcome, leftovers, totals = run(main())
    assert busy.http_status == 503 and 1 <= busy.retry_after <= 300
    assert busy.headers["Retry-After"] == str(busy.retry_after)
    assert cancelled and queued_outcome == "cancelled" and leftovers == []
    assert totals["rejected"] == 1


def test_a_job_cancelled_while_queued_never_runs():
    async def main():
        worker = LLMWorker(queue_size=2)
        worker.start()
        gate = threading.Event()
        ran: list[str] = []

        def first(cancel):
            gate.wait(5)
            yield "first"

        def second(cancel):
            ran.append("second")
            yield "second"

        a = worker.submit(first)
        b = worker.submit(second)
        b.cancel.set()
        gate.set()
        out_a = [x async for x in a.events()]
        out_b = [x async for x in b.events()]
        worker.close()
        return out_a, out_b, ran, b.outcome

    out_a, out_b, ran, outcome = run(main())
    assert out_a == ["first"] and out_b == [] and ran == [] and outcome == "cancelled"
