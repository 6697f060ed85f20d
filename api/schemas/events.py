"""Server-Sent Events of the streaming routes: the event models and each stream's OpenAPI schema."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.errors import ErrorDetail
from rag.contracts import AnswerEvent, EvidenceEvent, RowEvent, TokenEvent
from rag.library import ChangeSummary


def sse_event_schema(events: dict[str, str | None]) -> dict[str, Any]:
    """The schema of one Server-Sent Event (OpenAPI before 3.2 has a text/event-stream ``schema`` describe
    each event: its ``event`` name and its ``data``, a JSON text described by ``contentSchema``)."""
    variants = []
    for name, component in events.items():
        data: dict[str, Any] = {"type": "string"}
        if component:
            data |= {"contentMediaType": "application/json",
                     "contentSchema": {"$ref": f"#/components/schemas/{component}"}}
        variants.append({"type": "object", "required": ["data"],
                         "properties": {"event": {"const": name}, "data": data,
                                        "id": {"type": "string"}, "retry": {"type": "integer"}}})
    return {"oneOf": variants} if len(variants) > 1 else variants[0]


class ErrorEvent(BaseModel):
    """`event: error` of a stream: the answer failed after the stream began (same body as an error)."""

    error: ErrorDetail


# The event types of `POST /v1/ask/stream`, for its OpenAPI entry; api/app.py adds these schemas to the
# document's components (no route returns them as a model).
SSE_EVENT_MODELS: dict[str, type[BaseModel]] = {
    "evidence": EvidenceEvent, "token": TokenEvent, "row": RowEvent, "answer": AnswerEvent,
    "error": ErrorEvent}


ASK_STREAM_EVENT = sse_event_schema({name: model.__name__ for name, model in SSE_EVENT_MODELS.items()})


UploadStageName = Literal["parsing", "parsed", "embedding", "saving"]


class UploadStage(BaseModel):
    """`event: stage` of `POST /v1/reports/stream`: the upload has reached this stage."""

    stage: UploadStageName = Field(description="parsing: reading and parsing the files (sent at once); "
                                   "parsed: every file was read (`reports` lists what was found); "
                                   "embedding: the new reports' passages are being embedded; saving: the "
                                   "new version of the corpus is being written and put in service.")
    reports: list[str] | None = Field(None, description="With `parsed`: the titles of the reports found, "
                                      "file by file in upload order.")


# The event types of `POST /v1/reports/stream`; added to the OpenAPI components like SSE_EVENT_MODELS.
UPLOAD_EVENT_MODELS: dict[str, type[BaseModel]] = {
    "stage": UploadStage, "done": ChangeSummary, "error": ErrorEvent}
UPLOAD_STREAM_EVENT = sse_event_schema({name: model.__name__ for name, model in UPLOAD_EVENT_MODELS.items()})
# OpenAI's stream: unnamed events ("message") whose data is a ChatCompletionChunk, or the text [DONE].
CHAT_STREAM_EVENT = sse_event_schema({"message": None})
