"""Adding and removing reports: `POST /v1/reports` (multipart upload), `DELETE /v1/reports/{id}`.

Same rules as `rag ingest` / `rag remove` (`library/store.py`): a file whose name is in the corpus replaces
its reports only with ``replace=true`` (else 409), an unchanged file changes nothing, any bad file rejects
the whole upload with a 4xx naming it. The new corpus and index are committed as one version, then the
running service swaps to it; requests already in flight finish on the version they started with.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import JSONResponse

from api.deps import RuntimeDep, ServiceDep, require_api_key
from api.schemas import ERROR_RESPONSES, ErrorResponse, error_responses
from rag.corpus.segment import SegmentMode
from rag.library import ChangeSummary, Upload

router = APIRouter(prefix="/v1", tags=["adding reports"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)

MAX_FILES = 100


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
async def upload_reports(
    runtime: RuntimeDep, service: ServiceDep,
    files: Annotated[list[UploadFile], File(description=f"One to {MAX_FILES} report files.", min_length=1,
                                            max_length=MAX_FILES)],
    mode: Annotated[SegmentMode, Form(description="auto: find the reports; single: the file is one "
                                      "report; compilation: it must hold several.")] = "auto",
    replace: Annotated[bool, Form(description="Replace the reports of a file of the same name already in "
                                  "the corpus (bundled files included). Without it such a file gets 409.")]
    = False,
) -> JSONResponse:
    uploads = [Upload(name=f.filename or "", data=await f.read(), source=f"upload:{f.filename}")
               for f in files]
    # Embedding new text takes seconds: off the event loop, so questions keep being answered meanwhile.
    summary = await asyncio.to_thread(runtime.change_library,
                                      lambda lib: lib.ingest(uploads, mode, replace=replace)[0])
    return JSONResponse(summary.model_dump(mode="json"), status_code=201 if summary.changed else 200)


@router.delete("/reports/{report_id}", response_model=ChangeSummary,
               summary="Remove a report (or, given a file name, every report of that file)",
               responses={**error_responses(403, 404, 503),
                          409: {"model": ErrorResponse, "description": "It would remove every report, or "
                                "another ingest held the library for over RAG_WRITE_WAIT_S (Retry-After)."}})
async def delete_report(report_id: str, runtime: RuntimeDep, service: ServiceDep) -> ChangeSummary:
    return await asyncio.to_thread(runtime.change_library, lambda lib: lib.remove([report_id]))
