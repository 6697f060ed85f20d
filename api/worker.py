"""One thread runs every LLM job, one at a time, fed by a bounded queue.

A GGUF context is not thread-safe and two generations on 2 cores would each run at half speed anyway,
so answers are serialised. The event loop never blocks: a job's events cross back to it through an
``asyncio.Queue`` (``loop.call_soon_threadsafe``). Each job owns a ``threading.Event``; setting it
(the client went away) makes a queued job skip and a running one stop at its next token, because the
answer service checks the event it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from api.errors import ServiceBusy

log = logging.getLogger("api.worker")

JobFn = Callable[[threading.Event], Iterator[Any]]

_DONE = object()


class Job:
    """A unit of LLM work and the channel its results come back through."""

    _ids = itertools.count(1)

    def __init__(self, fn: JobFn, loop: asyncio.AbstractEventLoop, cancel: threading.Event | None = None):
        self.id = next(self._ids)
        self.fn = fn
        self.cancel = cancel or threading.Event()
        self.loop = loop
        self.out: asyncio.Queue[Any] = asyncio.Queue()
        self.started = threading.Event()
        self.finished = threading.Event()
        self.outcome: str | None = None  # ok | cancelled | error

    def emit(self, item: Any) -> None:
        # A closed loop means the server is shutting down and nobody listens.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)

    async def events(self, keepalive_s: float | None = None) -> AsyncIterator[Any]:
        """The job's items in order; exceptions raised by the job are re-raised here.

        With ``keepalive_s``, yields ``None`` whenever that long passes without an item, so a streaming
        caller can write something and notice a vanished client while the job waits in the queue.
        """
        while True:
            if keepalive_s is None:
                item = await self.out.get()
            else:
                try:
                    item = await asyncio.wait_for(self.out.get(), keepalive_s)
                except TimeoutError:
                    yield None
                    continue
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class Reservation:
    """A place in the queue, taken before a job's preparation (retrieval) starts, so a question that
    would be refused (503) is refused before it costs anything. ``LLMWorker.submit`` consumes it;
    ``release()`` gives it back if the job is never submitted."""

    def __init__(self, worker: LLMWorker):
        self._worker: LLMWorker | None = worker

    def release(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker._release()

    def _consume(self, worker: LLMWorker) -> bool:
        if self._worker is not worker:
            return False
        self._worker = None
        return True


class LLMWorker:
    def __init__(self, queue_size: int, name: str = "llm-worker"):
        self.queue_size = queue_size
        # Capacity is counted under _lock: jobs in the queue plus places reserved for jobs being prepared.
        self._queue: queue.Queue[Job | None] = queue.Queue()  # None: close() wakes the thread to stop
        self._lock = threading.Lock()
        self._reserved = 0
        self._stop = threading.Event()
        self._current: Job | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._avg_job_s = 15.0  # a first guess for Retry-After until jobs have been timed
        self.jobs_total: dict[str, int] = {"ok": 0, "cancelled": 0, "error": 0, "rejected": 0}

    def start(self) -> None:
        self._thread.start()

    @property
    def depth(self) -> int:
        """Jobs waiting (not counting the one running)."""
        return self._queue.qsize()

    @property
    def busy(self) -> bool:
        return self._current is not None

    def ahead_of(self, job: Job) -> int:
        """How many jobs run before ``job`` starts (0 once it has started)."""
        if job.started.is_set():
            return 0
        with self._queue.mutex:  # a consistent snapshot of the waiting jobs
            waiting = list(self._queue.queue)
        position = waiting.index(job) if job in waiting else 0
        return position + (1 if self.busy else 0)

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: about one job's time (the running one must finish)."""
        return max(1, min(300, math.ceil(self._avg_job_s)))

    def _admit(self) -> None:
        """Count one more waiting job, or raise ServiceBusy (503). Call with ``_lock`` held."""
        if self._stop.is_set():
            raise ServiceBusy(retry_after=5, depth=self.depth)
        if self._queue.qsize() + self._reserved >= self.queue_size:
            self.jobs_total["rejected"] += 1
            raise ServiceBusy(retry_after=self.retry_after(), depth=self.depth)

    def reserve(self) -> Reservation:
        """A place in the queue for a job still being prepared; raises ServiceBusy when there is none."""
        with self._lock:
            self._admit()
            self._reserved += 1
        return Reservation(self)

    def _release(self) -> None:
        with self._lock:
            self._reserved -= 1

    def submit(self, fn: JobFn, cancel: threading.Event | None = None,
               reservation: Reservation | None = None) -> Job:
        """Queue ``fn(cancel_event) -> iterator``; raises ServiceBusy (503) when the queue is full, unless
        ``reservation`` holds a place taken earlier (``reserve``).

        ``cancel``: the event the job's work already watches, if it was created beforehand.
        """
        job = Job(fn, asyncio.get_running_loop(), cancel)
        with self._lock:
            if reservation is not None and reservation._consume(self):
                self._reserved -= 1
                if self._stop.is_set():
                    raise ServiceBusy(retry_after=5, depth=self.depth)
            else:
                self._admit()
            self._queue.put_nowait(job)
        return job

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._queue.get()
            if job is None:
                break
            self._current = job
            try:
                self._execute(job)
            finally:
                self._current = None
                job.finished.set()
                self._queue.task_done()

    def _execute(self, job: Job) -> None:
        job.started.set()
        if job.cancel.is_set():  # the client left while the job was queued
            job.outcome = "cancelled"
            job.emit(_DONE)
            self.jobs_total["cancelled"] += 1
            return
        t0 = time.perf_counter()
        iterator: Iterator[Any] | None = None
        try:
            iterator = job.fn(job.cancel)
            for item in iterator:
                job.emit(item)
                if job.cancel.is_set():
                    break
            job.outcome = "cancelled" if job.cancel.is_set() else "ok"
            job.emit(_DONE)
        except Exception as exc:  # delivered to the waiting request, which maps it to a response
            job.outcome = "cancelled" if job.cancel.is_set() else "error"
            job.emit(exc)
        finally:
            if job.outcome is None:  # a BaseException escaped: never leave the request waiting
                job.outcome = "error"
                job.emit(RuntimeError("the answer worker was interrupted"))
            if iterator is not None and hasattr(iterator, "close"):
                with contextlib.suppress(Exception):
                    iterator.close()  # runs the generator's cleanup (frees the LLM) on cancel
            elapsed = time.perf_counter() - t0
            if job.outcome == "ok":
                self._avg_job_s = 0.7 * self._avg_job_s + 0.3 * elapsed
            self.jobs_total[job.outcome] += 1

    def close(self, timeout: float = 10.0) -> None:
        """Cancel the running and queued jobs, then stop the thread."""
        self._stop.set()
        if self._current is not None:
            self._current.cancel.set()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:  # an earlier close()'s wake-up
                continue
            job.cancel.set()
            job.outcome = "cancelled"
            job.emit(_DONE)
            job.finished.set()
        self._queue.put_nowait(None)  # wakes the thread if it waits for a job: it stops at once
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("LLM worker busy after %.0f s; it exits with the process", timeout)
