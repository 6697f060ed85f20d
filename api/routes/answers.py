"""`POST /v1/ask` and `POST /v1/ask/stream`: cited answers, whole or streamed."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import MetricsDep, ServiceDep, WorkerDep, require_api_key
from api.schemas.answers import AskRequest
from api.schemas.errors import GUARDED, error_responses
from api.schemas.events import ASK_STREAM_EVENT
from api.streaming import (
    ClientGone,
    EventStreamResponse,
    ask_sse,
    final_answer,
    start_streamed_answer,
    submit_answer,
)
from rag.contracts import Answer

router = APIRouter(prefix="/v1", tags=["answers"], dependencies=[Depends(require_api_key)])

_STREAM_DOC = """Server-Sent Events, in this order:

* `event: evidence` — `EvidenceEvent`: the candidate passages (what citations can point to), sent as soon
  as retrieval is done — retrieval does not wait for the model, even when other questions hold it;
* `event: token` — `TokenEvent`, many: the model's draft as it is written (not yet checked);
* `event: row` — `RowEvent`, one per table row, for cross-report questions (「哪些单位提到了…」,
  「A和B在…上有何不同」): each row as soon as it is checked against its clauses, with the citations its
  cells refer to (no tokens: these tables are built without the model);
* `event: answer` — `AnswerEvent`: the checked answer (text, citations, unsupported sentences, timings);
* or `event: error` — `{"error": {"type", "message", "status"}}` if the answer failed.

Lines starting with `:` are comments: `: queued N` while N questions are ahead of this one for the model,
`: working` as a keep-alive. A full queue is
refused before the stream starts (503 with `Retry-After`). Closing the connection cancels the generation.
"""


@router.post("/ask", response_model=Answer, summary="Ask a question; get the cited, checked answer",
             description="Blocks until the answer is complete (seconds on CPU). Disconnecting cancels it.",
             responses=error_responses(*GUARDED, 403, 413, 422, 503))
async def ask(body: AskRequest, request: Request, service: ServiceDep, worker: WorkerDep,
              metrics: MetricsDep) -> Response | Answer:
    job = submit_answer(worker, service, body)
    try:
        return await final_answer(job, request, metrics)
    except ClientGone:
        return Response(status_code=499)  # nobody reads it; keeps the access log honest


@router.post("/ask/stream", summary="Ask a question; stream evidence, tokens and the answer (SSE)",
             description=_STREAM_DOC, response_class=EventStreamResponse, status_code=200,
             responses={200: {"description": "Server-Sent Events: `evidence`, `token`… or `row`…, then "
                              "`answer` (or `error`). The schema describes one event: its name and its "
                              "`data`, one JSON object (EvidenceEvent, TokenEvent, RowEvent, AnswerEvent or "
                              "ErrorEvent).",
                              "content": {"text/event-stream": {
                                  "schema": ASK_STREAM_EVENT,
                                  "example": (
                 'event: evidence\ndata: {"event":"evidence","standalone_question":"…","evidence":[…],'
                 '"retrieval_ms":61.2}\n\nevent: token\ndata: {"event":"token","text":"下半年"}\n\n'
                 'event: answer\ndata: {"event":"answer","answer":{…}}\n\n')}}},
                        **error_responses(*GUARDED, 403, 413, 422, 503, non_json_route=True)})
async def ask_stream(body: AskRequest, service: ServiceDep, worker: WorkerDep,
                     metrics: MetricsDep) -> EventStreamResponse:
    evidence, job = await start_streamed_answer(worker, service, body)
    return EventStreamResponse(ask_sse(evidence, job, worker, metrics), on_close=job.cancel.set)
