"""Adding and removing reports: `POST /v1/reports` (multipart upload), `POST /v1/reports/stream` (the same,
with its progress as Server-Sent Events), `DELETE /v1/reports/{id}`.

Same rules as `rag ingest` / `rag remove` (`library/store.py`): a file whose name is in the corpus replaces
its reports only with ``replace=true`` (else 409), an unchanged file changes nothing, any bad file rejects
the whole upload with a 4xx naming it. The new corpus and index are committed as one version, then the
running service swaps to it; requests already in flight finish on the version they started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import JSONResponse

from api.deps import Runtime, RuntimeDep, ServiceDep, require_api_key
from api.schemas.errors import ERROR_RESPONSES, GUARDED, ErrorResponse, error_responses
from api.schemas.events import UPLOAD_STREAM_EVENT, UploadStage, UploadStageName
from api.streaming import KEEPALIVE_S, EventStreamResponse, error_payload, sse
from rag.corpus.segment import SegmentMode
from rag.errors import RagError
from rag.library import ChangeSummary, Library, Upload

log = logging.getLogger("api")

router = APIRouter(prefix="/v1", tags=["adding reports"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)

MAX_FILES = 100

Files = Annotated[list[UploadFile], File(description=f"One to {MAX_FILES} report files.", min_length=1,
                                         max_length=MAX_FILES)]
Mode = Annotated[SegmentMode, Form(description="auto: find the reports; single: the file is one report; "
                                   "compilation: it must hold several.")]
Replace = Annotated[bool, Form(description="Replace the reports of a file of the same name already in the "
                               "corpus (bundled files included). Without it such a file gets 409.")]


async def _read(files: list[UploadFile]) -> list[Upload]:
    return [Upload(name=f.filename or "", data=await f.read(), source=f"upload:{f.filename}") for f in files]


@router.post(
    "/reports", response_model=ChangeSummary, status_code=201,
    summary="Add or replace report files (.txt in UTF-8/GB18030, .docx); multipart field `files`",
    responses={200: {"model": ChangeSummary, "description": "Every file was already there, unchanged."},
               409: {"model": ErrorResponse, "description": "A file of that name is already in the corpus "
                     "(send replace=true), or another ingest held the library for over RAG_WRITE_WAIT_S "
                     "(Retry-After)."},
               413: {"model": ErrorResponse, "description": "The body, a file, or the text or XML inside "
                     "a .docx is over the per-file limit."},
               422: {"model": ErrorResponse, "description": "A file is refused (name, type, encoding, "
                     "malformed .docx, no report in it); the message names it. Nothing was added."},
               **error_responses(403, 503)},
)
async def upload_reports(runtime: RuntimeDep, service: ServiceDep, files: Files, mode: Mode = "auto",
                         replace: Replace = False) -> JSONResponse:
    uploads = await _read(files)
    # Embedding new text takes seconds: off the event loop, so questions keep being answered meanwhile.
    summary = await asyncio.to_thread(runtime.change_library,
                                      lambda lib: lib.ingest(uploads, mode, replace=replace)[0])
    return JSONResponse(summary.model_dump(mode="json"), status_code=201 if summary.changed else 200)


_STREAM_DOC = """The same upload as `POST /v1/reports` (same fields, same rules), answered with its progress
as Server-Sent Events, for a page that shows what is happening while the new reports are embedded:

* `event: stage` — `UploadStage`, each stage once and in this order: `{"stage": "parsing"}` at once;
  `{"stage": "parsed", "reports": [titles…]}` when every file is read and parsed (the titles of the reports
  found, file by file); `{"stage": "embedding"}` when the new version's passages are being embedded;
  `{"stage": "saving"}` when the new version is being written and put in service. An upload that changes
  nothing (every file already there, unchanged) goes from `parsed` straight to `done`;
* `event: done` — the `ChangeSummary`, as `POST /v1/reports` returns it (`changed` false: nothing changed);
  `files[].titles` are the reports found in each file;
* or `event: error` — `{"error": {"type", "message", "status"}}` (and `retry_after` when worth retrying):
  the upload was refused and nothing was added. `status` is what `POST /v1/reports` would have answered:
  422 for a refused file (the message names it), 409 for a name already in the corpus (without `replace`)
  or another upload holding the library, 413 for a file or its text over the limit.

Lines starting with `:` are keep-alive comments. Refusals found before the stream starts (no files, more
than 100, a body over the limit, a bad `mode`, the API key, not ready) are the usual JSON errors.
Disconnecting does not stop the upload: it completes (or not) as one change either way.
"""

UPLOAD_STAGES: tuple[UploadStageName, ...] = ("parsing", "parsed", "embedding", "saving")
# The Library step (rag.library.store.Step) after which each later stage begins.
_STAGE_AFTER_STEP: dict[str, UploadStageName] = {"prepared": "parsed", "parsed": "embedding",
                                                 "index-written": "saving"}
RUNNING_UPLOADS: set[asyncio.Future] = set()  # uploads in progress, kept alive after their client left


def _log_failure(done: asyncio.Future) -> None:
    exc = None if done.cancelled() else done.exception()  # marks it retrieved either way
    if exc is not None and not isinstance(exc, RagError):
        log.error("an upload whose client left failed", exc_info=exc)


async def upload_events(runtime: Runtime, uploads: list[Upload], mode: SegmentMode,
                        replace: bool) -> AsyncIterator[bytes]:
    """The ingest runs in a thread (not on the event loop); the Library's step callbacks, called in that
    thread, are handed to the loop (call_soon_threadsafe) and become `stage` events here."""
    loop = asyncio.get_running_loop()
    steps: asyncio.Queue[UploadStage | None] = asyncio.Queue()
    library: list[Library] = []

    def op(lib: Library) -> ChangeSummary:
        library.append(lib)
        return lib.ingest(uploads, mode, replace=replace)[0]

    def on_step(step: str) -> None:  # in the ingest's thread
        stage = _STAGE_AFTER_STEP.get(step)
        if stage is None:
            return
        found = [t for titles in library[0].found.values() for t in titles] if stage == "parsed" else None
        with contextlib.suppress(RuntimeError):  # the loop is closed (shutdown): the ingest carries on
            loop.call_soon_threadsafe(steps.put_nowait, UploadStage(stage=stage, reports=found))

    def finished(done: asyncio.Future) -> None:
        RUNNING_UPLOADS.discard(done)
        if not done.cancelled():
            done.exception()  # retrieved here; the stream reads the result itself
        steps.put_nowait(None)  # after every step: those were queued on the loop before the result

    ingest = asyncio.ensure_future(asyncio.to_thread(runtime.change_library, op, on_step))
    RUNNING_UPLOADS.add(ingest)
    ingest.add_done_callback(finished)
    try:
        reached = 0
        yield sse("stage", UploadStage(stage="parsing").model_dump_json(exclude_none=True))
        while True:
            try:
                event = await asyncio.wait_for(steps.get(), KEEPALIVE_S)
            except TimeoutError:
                yield b": working\n\n"
                continue
            if event is None:
                break
            rank = UPLOAD_STAGES.index(event.stage)
            if rank > reached:  # forward only, each stage once
                reached = rank
                yield sse("stage", event.model_dump_json(exclude_none=True))
        try:
            summary = ingest.result()
        except Exception as exc:
            yield sse("error", json.dumps(error_payload(exc, "the upload"), ensure_ascii=False))
            return
        yield sse("done", summary.model_dump_json())
    finally:
        if not ingest.done():  # the client left: the upload goes on (it is atomic); failures go to the log
            ingest.add_done_callback(_log_failure)


@router.post(
    "/reports/stream", summary="Add or replace report files, with progress as Server-Sent Events",
    description=_STREAM_DOC, response_class=EventStreamResponse, status_code=200,
    responses={200: {"description": "Server-Sent Events: `stage` (parsing, parsed, embedding, saving), then "
                     "`done` (the ChangeSummary) or `error` (ErrorEvent). The schema describes one event: "
                     "its name and its `data`, one JSON object.",
                     "content": {"text/event-stream": {
                         "schema": UPLOAD_STREAM_EVENT,
                         "example": (
                             'event: stage\ndata: {"stage":"parsing"}\n\n'
                             'event: stage\ndata: {"stage":"parsed","reports":["县档案局2024年工作总结"]}\n\n'
                             'event: stage\ndata: {"stage":"embedding"}\n\n'
                             'event: stage\ndata: {"stage":"saving"}\n\n'
                             'event: done\ndata: {"changed":true,"files":[{"name":"县档案局2024年工作总结'
                             '.txt","action":"added","titles":["县档案局2024年工作总结"],…},…]}\n\n')}}},
               **error_responses(*GUARDED, 403, 413, 422, 503, non_json_route=True)},
)
async def upload_reports_stream(runtime: RuntimeDep, service: ServiceDep, files: Files, mode: Mode = "auto",
                                replace: Replace = False) -> EventStreamResponse:
    uploads = await _read(files)
    return EventStreamResponse(upload_events(runtime, uploads, mode, replace), on_close=lambda: None)


@router.delete("/reports/{report_id}", response_model=ChangeSummary,
               summary="Remove a report (or, given a file name, every report of that file)",
               responses={**error_responses(403, 404, 503),
                          409: {"model": ErrorResponse, "description": "It would remove every report, or "
                                "another ingest held the library for over RAG_WRITE_WAIT_S (Retry-After)."}})
async def delete_report(report_id: str, runtime: RuntimeDep, service: ServiceDep) -> ChangeSummary:
    return await asyncio.to_thread(runtime.change_library, lambda lib: lib.remove([report_id]))
