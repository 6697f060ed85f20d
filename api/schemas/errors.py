"""The error body every failure answers with, and the OpenAPI entries for the error statuses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    type: str = Field(examples=["invalid_request"])
    message: str = Field(examples=["question: the question is empty; type a question"])
    id: str | None = Field(None, description="The unknown id, for 404s.")
    details: list[dict[str, Any]] | None = Field(None, description="Per-field problems, for 422s.")
    status: int | None = Field(None, description="In a stream's `error` event: the HTTP status the error "
                                                 "would have had, had the stream not begun.")
    retry_after: int | None = Field(None, description="In a stream's `error` event: the Retry-After the "
                                                      "response would have had (seconds).")


class ErrorResponse(BaseModel):
    error: ErrorDetail


_ERRORS: dict[int, str] = {
    400: "Bad request.",
    401: "API key missing or wrong (only when a key is set).",
    403: "A write from another web site's page (Origin / Sec-Fetch-Site); use the service's own page or "
         "RAG_ALLOWED_ORIGINS.",
    404: "Unknown id; the message names it.",
    409: "Conflict; the message says what to do (Retry-After when it is worth retrying).",
    413: "Request body (or an uploaded file's content) over the size limit.",
    421: "The Host header names another host (the service answers localhost / 127.0.0.1 when bound to "
         "loopback; RAG_ALLOWED_HOSTS adds names).",
    422: "Malformed JSON or invalid fields; the message names them.",
    503: "Still loading, or busy (the answer queue or the search slots are full): Retry-After says when to "
         "come back.",
}


def error_responses(*codes: int, non_json_route: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses, each with the ErrorResponse JSON body. On a route whose success
    is not JSON (SSE, plain text) the error body is still JSON, so it is given as content rather than as
    a model (which FastAPI would list under the route's own media type)."""
    if non_json_route:
        json_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
        return {code: {"description": _ERRORS[code], "content": json_body} for code in codes}
    return {code: {"model": ErrorResponse, "description": _ERRORS[code]} for code in codes}


# Every route behind the guard (api/security.py) can answer these.
GUARDED = (401, 421)
ERROR_RESPONSES = error_responses(*GUARDED)  # reads without a body
WRITE_RESPONSES = error_responses(*GUARDED, 403, 413, 422)  # routes that take a body
