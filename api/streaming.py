"""Running an answer on the LLM worker and delivering it: whole (JSON) or as Server-Sent Events.

Disconnects are watched explicitly (not left to generator finalisation): when the client goes away,
the job's cancel event is set, so a queued job is skipped and a running generation stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.errors import describe, error_body
from api.metrics import Metrics
from api.schemas.answers import AskRequest
from api.worker import Job, LLMWorker
from rag.answering.protocol import AnswerServiceProtocol
from rag.contracts import Answer, AnswerEvent, EvidenceEvent, StreamEvent
from rag.errors import RagError

log = logging.getLogger("api")

KEEPALIVE_S = 2.0


async def start_streamed_answer(worker: LLMWorker, service: AnswerServiceProtocol,
                                req: AskRequest) -> tuple[EvidenceEvent | None, Job]:
    """Retrieval now, generation on the worker: the evidence event does not wait for the model.

    ``AnswerService.stream`` retrieves and selects evidence (no LLM; follow-ups are rewritten by rules)
    before its first yield. That first step runs in the thread pool; the suspended generator then goes to
    the LLM worker, which resumes it for the tokens and the answer (one thread at a time, never two).
    The place in the queue is reserved first, so a full queue refuses (503) before retrieval runs.
    """
    reservation = worker.reserve()  # a full queue refuses (503) before retrieval costs anything
    cancel = threading.Event()
    events = service.stream(req.question, history=req.history, mode=req.mode, k=req.k,
                            filters=req.filters, cancel=cancel)
    try:
        first = await run_in_threadpool(next, events, None)
        job = worker.submit(lambda _cancel: events, cancel=cancel, reservation=reservation)
    except BaseException:
        reservation.release()  # no effect once submitted
        events.close()
        raise
    if first is not None and not isinstance(first, EvidenceEvent):
        raise RuntimeError(f"the answer stream began with {type(first).__name__}, not evidence")
    return first, job


def submit_answer(worker: LLMWorker, service: AnswerServiceProtocol, req: AskRequest) -> Job:
    """Queue the question; raises ServiceBusy (503 + Retry-After) when the queue is full."""

    def run(cancel):
        return service.stream(req.question, history=req.history, mode=req.mode, k=req.k,
                              filters=req.filters, cancel=cancel)

    return worker.submit(run)


async def wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class ClientGone(Exception):
    """The client disconnected before the answer was ready."""


async def final_answer(job: Job, request: Request, metrics: Metrics) -> Answer:
    """The job's Answer; if the client disconnects first, cancels the job and raises ClientGone."""

    async def consume() -> Answer:
        answer = None
        async for event in job.events():
            if isinstance(event, AnswerEvent):
                answer = event.answer
        if answer is None:
            raise RuntimeError("the answer stream ended without an answer")
        metrics.observe_answer(answer)
        return answer

    consumer = asyncio.ensure_future(consume())
    watcher = asyncio.ensure_future(wait_for_disconnect(request.receive))
    try:
        done, _ = await asyncio.wait({consumer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if consumer in done:
            return consumer.result()
        raise ClientGone()
    finally:
        job.cancel.set()  # no effect once the job is finished
        for task in (consumer, watcher):
            task.cancel()
        with contextlib.suppress(BaseException):
            await watcher


def sse(event: str | None, data: str) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n").encode()


def error_payload(exc: BaseException, what: str = "the answer") -> dict[str, Any]:
    """The data of an ``error`` event: a project error as its JSON response would have been
    (``api.errors.describe``) plus that response's ``status``; anything else is logged."""
    if isinstance(exc, RagError):
        return describe(exc).event_body()
    log.error("%s failed", what, exc_info=exc)
    return error_body("internal_error", f"{what} failed; the error is logged", status=500)


async def answer_events(job: Job, metrics: Metrics) -> AsyncIterator[StreamEvent | None]:
    """The job's stream events; ``None`` while waiting (a keepalive)."""
    async for event in job.events(keepalive_s=KEEPALIVE_S):
        if isinstance(event, AnswerEvent):
            metrics.observe_answer(event.answer)
        yield event


def queue_comment(worker: LLMWorker, job: Job) -> bytes:
    """An SSE comment (clients that do not care ignore it) saying how many questions are ahead."""
    ahead = worker.ahead_of(job)
    return f": queued {ahead}\n\n".encode() if ahead else b": working\n\n"


async def ask_sse(evidence: EvidenceEvent | None, job: Job, worker: LLMWorker,
                  metrics: Metrics) -> AsyncIterator[bytes]:
    """`/v1/ask/stream`: evidence, token…, answer — or error — as named SSE events.

    The evidence was retrieved before queueing, so it goes out at once; while other questions hold the
    model, comments ``: queued N`` say so (the chat page shows them) and keep proxies from closing the line.
    """
    try:
        if evidence is not None:
            yield sse(evidence.event, evidence.model_dump_json())
        if worker.ahead_of(job):
            yield queue_comment(worker, job)
        async for event in answer_events(job, metrics):
            if event is None:
                yield queue_comment(worker, job)
            else:
                yield sse(event.event, event.model_dump_json())
    except Exception as exc:
        yield sse("error", json.dumps(error_payload(exc), ensure_ascii=False))


class EventStreamResponse(StreamingResponse):
    """An SSE response that always listens for the client leaving and then calls ``on_close``.

    Starlette only listens for disconnects on ASGI < 2.4 servers; cancellation must not depend on that.
    """

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[bytes], on_close: Callable[[], None]):
        super().__init__(content, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as tg:

                async def stream() -> None:
                    with contextlib.suppress(OSError):  # the client vanished mid-write
                        await self.stream_response(send)
                    tg.cancel_scope.cancel()

                async def listen() -> None:
                    await wait_for_disconnect(receive)
                    tg.cancel_scope.cancel()

                tg.start_soon(stream)
                tg.start_soon(listen)
        finally:
            self.on_close()
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
