"""FastAPI application factory.

Heavy components (encoder, index, corpus, LLM) are loaded once, in a background thread started by the
lifespan, so the server answers `/healthz` at once and `/readyz` turns ready when loading is done; until
then the other endpoints answer 503 with Retry-After. Tests inject a ready-made service instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api import heap, openai_compat
from api.deps import Runtime, ServiceFactory
from api.errors import install_error_handlers
from api.metrics import MetricsMiddleware
from api.middleware import BodyLimitMiddleware
from api.routes import answers, browse, library, ops
from api.schemas.events import SSE_EVENT_MODELS, UPLOAD_EVENT_MODELS
from api.security import GuardMiddleware
from api.worker import LLMWorker
from embeddings.protocol import release_passage_model
from rag import __version__
from rag.answering.protocol import AnswerServiceProtocol
from rag.config import Settings
from rag.library import live_version

log = logging.getLogger("api")

STATIC_DIR = Path(__file__).resolve().parent / "static"
LIBRARY_POLL_S = 2.0  # how often the server looks for a version committed by `rag ingest` elsewhere

DESCRIPTION = """Cited answers from Chinese government work reports, offline.

* `POST /v1/ask`, `POST /v1/ask/stream` (SSE) — questions;
* `POST /v1/chat/completions`, `GET /v1/models` — OpenAI-compatible;
* `GET /v1/search`, `GET /v1/reports…` — search and read the reports;
* `POST /v1/reports`, `POST /v1/reports/stream` (SSE), `DELETE /v1/reports/{id}` — add, replace and remove
  reports;
* `GET /healthz`, `GET /readyz`, `GET /metrics` — operations;
* `/` — the chat page.

Errors always look like `{"error": {"type": "...", "message": "..."}}`. When the `api_key` setting is set,
everything except `/healthz`, `/readyz`, these docs and the static chat page needs
`Authorization: Bearer <key>` (or `X-API-Key: <key>` when no Authorization header is sent). Bound to
loopback, the service answers only requests addressed to localhost / 127.0.0.1 (`allowed_hosts` adds
names); POST and DELETE from another web site's pages are refused (`allowed_origins` admits sites).
"""


def _load_service(settings: Settings) -> AnswerServiceProtocol:
    from rag.app import open_answer_service  # heavy imports only when really serving

    service: AnswerServiceProtocol = open_answer_service(settings)
    # the index is built or loaded by now: until an upload, only questions are embedded
    release_passage_model(service.retriever.encoder)
    service.warm_up()  # the first question should not pay for the encoder's and LLM's first call
    return service


def _watch_library(runtime: Runtime, stop: threading.Event) -> None:
    while not stop.wait(LIBRARY_POLL_S):
        try:
            runtime.reload_if_changed()
        except Exception as exc:  # a bad version on disk: keep serving the one we have
            log.error("loading the new corpus version failed: %s", exc)


def _finish_openapi(app: FastAPI, settings: Settings) -> None:
    """The OpenAPI document describes the service as configured: without an API key no operation asks
    for one (and none answers 401); and the SSE event schemas (api.schemas.events.SSE_EVENT_MODELS and
    UPLOAD_EVENT_MODELS) are added to the components — a stream's 200 response names them, but no route
    returns them as a model."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = generate()
            if not settings.api_key:
                spec.get("components", {}).pop("securitySchemes", None)
                for operations in spec["paths"].values():
                    for operation in operations.values():
                        operation.pop("security", None)
                        operation.get("responses", {}).pop("401", None)
            for operations in spec["paths"].values():
                for operation in operations.values():
                    for response in operation.get("responses", {}).values():
                        # FastAPI gives a streaming route's body {type: string} and merges the documented
                        # event schema into it; an event is an object, so the merged type must go.
                        stream = response.get("content", {}).get("text/event-stream", {}).get("schema", {})
                        if len(stream) > 1:
                            stream.pop("type", None)
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            for model in [*SSE_EVENT_MODELS.values(), *UPLOAD_EVENT_MODELS.values()]:
                doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in doc.pop("$defs", {}).items():
                    schemas.setdefault(name, sub)
                schemas.setdefault(model.__name__, doc)
        assert app.openapi_schema is not None  # generate() (FastAPI.openapi) stored the document it made
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document


def create_app(settings: Settings | None = None, service: AnswerServiceProtocol | None = None,
               rebuild_service: ServiceFactory | None = None, watch_library: bool | None = None) -> FastAPI:
    """The app. ``service``: an already loaded answer service (tests pass a fake; see
    rag.answering.protocol); otherwise one is loaded at start.
    ``rebuild_service(service, corpus, index)`` makes the service for a new corpus version (default
    ``rag.app.replace_corpus``); ``watch_library`` (default: when the app loads its own service)
    polls for versions committed by `rag ingest` in another process and swaps to them."""
    settings = settings or Settings()
    runtime = Runtime(settings=settings, rebuild_service=rebuild_service)
    watch = service is None if watch_library is None else watch_library

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = LLMWorker(settings.queue_size)
        worker.start()
        runtime.worker = worker
        stop = threading.Event()
        runtime.version = live_version(settings)  # read before loading: a newer one is picked up later
        if service is not None:
            runtime.service = service
        else:
            def load() -> None:
                try:
                    loaded = _load_service(settings)
                except Exception as exc:  # reported by /readyz and every 503; the process stays up
                    log.error("loading the answer service failed: %s", exc)
                    runtime.load_error = exc
                    return
                heap.settle()
                runtime.service = loaded  # one assignment: the moment the app turns ready
                log.info("answer service loaded; ready")

            # A daemon thread, not the loop's executor: Ctrl+C during loading must not wait for it.
            threading.Thread(target=load, name="service-loader", daemon=True).start()
        if watch:
            threading.Thread(target=_watch_library, args=(runtime, stop), name="library-watch",
                             daemon=True).start()
        try:
            yield
        finally:
            stop.set()
            await asyncio.to_thread(worker.close)
            runtime.service = runtime.worker = None

    app = FastAPIOffline(title="govreport-rag", version=__version__, lifespan=lifespan,
                         description=DESCRIPTION)
    app.state.runtime = runtime
    _finish_openapi(app, settings)
    install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(answers.router)
    app.include_router(openai_compat.router)
    app.include_router(browse.router)
    app.include_router(library.router)

    # The chat page: static files, no build step, nothing from a CDN. It holds no data, so it is served
    # without the API key; the page asks for the key when the API answers 401.
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # Outermost first: metrics see every response, 413s included.
    # Report uploads may be larger than questions: one file of up to ingest_max_bytes, plus the form.
    upload_limit = settings.ingest_max_bytes + 100_000
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       overrides={("POST", "/v1/reports"): upload_limit,
                                  ("POST", "/v1/reports/stream"): upload_limit})
    # Host, API key and cross-origin checks before the body is read (api/security.py).
    app.add_middleware(GuardMiddleware, settings=settings)
    app.add_middleware(MetricsMiddleware, metrics=runtime.metrics)
    return app
