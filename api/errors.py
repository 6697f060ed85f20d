"""Every error the API returns has one JSON shape: ``{"error": {"type", "message", ...}}``.

The shape is also what OpenAI clients read (``error.message``), so the chat-completions endpoint needs
no separate error format. Project errors (``rag.errors.RagError``) carry their own HTTP status; bad
input becomes a 4xx with a message naming the field, never a 500.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import RagError

log = logging.getLogger("api")


class ApiError(RagError):
    """An error raised by the HTTP layer itself, with its status, type and (optionally) the unknown id."""

    def __init__(self, status: int, type_: str, message: str, *, id: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.http_status = status
        self.type = type_
        self.id = id
        self.headers = headers or {}


class ServiceBusy(ApiError):
    """The LLM queue is full; the client should come back after ``retry_after`` seconds."""

    def __init__(self, retry_after: int, depth: int):
        super().__init__(503, "busy", f"the answer queue is full ({depth} questions waiting); "
                         f"retry in about {retry_after} s", headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# An absolute filesystem path of two or more parts (/root/.cache/…/x.gguf), but not an API path (/v1/…).
_FS_PATH_RE = re.compile(
    r"(?<![\w.:/~-])/(?!(?:v1|static|docs|redoc|healthz|readyz|metrics|openapi\.json)(?:[/\s'\"]|$))"
    r"[^\s'\"<>()\[\]{},;/]+(?:/[^\s'\"<>()\[\]{},;/]+)+/?"
)


def public_text(message: str) -> str:
    """The message without filesystem paths: each becomes …/<its last part>. Applied to the messages of
    project errors (which name files for the CLI's sake) before they go into a response: the layout of
    the server's disk is not the client's to know (the log keeps the full message)."""
    return _FS_PATH_RE.sub(lambda m: "…/" + m.group(0).rstrip("/").rpartition("/")[2], message)


def error_body(type_: str, message: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return {"error": body}


def error_response(status: int, type_: str, message: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(type_, message, **extra), status_code=status, headers=headers)


@dataclass(frozen=True)
class ErrorInfo:
    """What an expected error becomes in a response: status, type, the message shown, headers."""

    status: int
    type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    id: str | None = None

    @property
    def retry_after(self) -> int | None:
        value = self.headers.get("Retry-After")
        return int(value) if value is not None and value.isdigit() else None

    def response(self) -> JSONResponse:
        return error_response(self.status, self.type, self.message, headers=self.headers or None, id=self.id)

    def event_body(self) -> dict[str, Any]:
        """The ``data`` of an SSE ``error`` event: the response's body plus the status (and Retry-After)
        it would have had, since a stream that has begun can change neither."""
        return error_body(self.type, self.message, id=self.id, status=self.status,
                          retry_after=self.retry_after)


def describe(exc: RagError) -> ErrorInfo:
    """The one mapping from a project error to its response, used by the JSON error handlers and by the
    `error` events of streams: ApiError carries its own; any other RagError gives its class's
    ``http_status``, its class name in snake_case as the type, and its message without server paths
    (Retry-After when it names ``retry_after``, and on every 503)."""
    if isinstance(exc, ApiError):
        return ErrorInfo(exc.http_status, exc.type, str(exc), dict(exc.headers), exc.id)
    status = int(getattr(exc, "http_status", 500))
    retry = getattr(exc, "retry_after", 10 if status == 503 else None)
    headers = {"Retry-After": str(retry)} if retry is not None else {}
    return ErrorInfo(status, _snake(type(exc).__name__), public_text(str(exc)), headers)


def _loc(loc: tuple | list) -> str:
    """('body', 'history', 3, 'role') → 'history[3].role' (the 'body'/'query' prefix says nothing)."""
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def readable_validation_errors(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """One sentence for people, plus a list of {field, message} for programs."""
    details = []
    for err in errors:
        if err.get("type") == "json_invalid":
            pos = err["loc"][1] if len(err.get("loc", ())) > 1 else "?"
            reason = (err.get("ctx") or {}).get("error", "")
            details.append({"field": "body", "message": f"malformed JSON at character {pos}: {reason}"})
            continue
        msg = str(err.get("msg", "invalid value"))
        msg = msg.removeprefix("Value error, ")
        if err.get("type") == "missing":
            msg = "is required"
        elif err.get("type") == "extra_forbidden":
            msg = "is not a known field"
        details.append({"field": _loc(err.get("loc", ())), "message": msg})
    sentence = "; ".join(
        d["message"] if d["field"] == "body" else f"{d['field']}: {d['message']}" for d in details
    )
    return sentence or "invalid request", details


def _allowed_methods(request: Request) -> list[str]:
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = readable_validation_errors(list(exc.errors()))
        return error_response(422, "invalid_request", message, details=details)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return describe(exc).response()

    @app.exception_handler(RagError)
    async def _rag(request: Request, exc: RagError) -> JSONResponse:
        info = describe(exc)
        if info.status >= 500:
            log.warning("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        return info.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
                 413: "payload_too_large"}
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 400 and "parsing the body" in message:
            # FastAPI's answer to a body that is not text (e.g. bad UTF-8): malformed JSON, like the rest
            message = "malformed JSON: the body could not be parsed (not UTF-8, or nested too deeply)"
            return error_response(422, "invalid_request", message,
                                  details=[{"field": "body", "message": message}])
        if exc.status_code == 400 and "multipart" in message.lower():
            message = ("malformed multipart/form-data body: send each report file as a part named `files` "
                       f"({message.rstrip('.')})")
            return error_response(422, "invalid_request", message,
                                  details=[{"field": "body", "message": message}])
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            allowed = _allowed_methods(request)
            message = f"{request.method} is not allowed on {request.url.path}; allowed: {', '.join(allowed)}"
            # Starlette's Allow names only the first route that matched the path; a path served by
            # several routes (GET and DELETE /v1/reports/{id}) must list them all.
            return error_response(405, "method_not_allowed", message, headers={"Allow": ", ".join(allowed)})
        return error_response(exc.status_code, kinds.get(exc.status_code, "http_error"), message,
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "the server failed to answer; the error is logged")
