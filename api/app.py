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

from api import openai_compat
from api.deps import Runtime
from api.errors import install_error_handlers
from api.metrics import MetricsMiddleware
from api.middleware import BodyLimitMiddleware
from api.routes import answers, browse, ops
from api.worker import LLMWorker
from rag import __version__
from rag.answer import AnswerService
from rag.settings import Settings

log = logging.getLogger("api")

STATIC_DIR = Path(__file__).resolve().parent / "static"

DESCRIPTION = """Cited answers from Chinese government work reports, offline.

* `POST /v1/ask`, `POST /v1/ask/stream` (SSE) — questions;
* `POST /v1/chat/completions`, `GET /v1/models` — OpenAI-compatible;
* `GET /v1/search`, `GET /v1/reports…` — search and read the reports;
* `GET /healthz`, `GET /readyz`, `GET /metrics` — operations;
* `/` — the chat page.

Errors always look like `{"error": {"type": "...", "message": "..."}}`. When the `api_key` setting is set,
everything except `/healthz`, `/readyz`, these docs and the static chat page needs
`Authorization: Bearer <key>`.
"""


def _load_service(settings: Settings) -> AnswerService:
    from rag.services import open_answer_service  # heavy imports only when really serving

    service = open_answer_service(settings)
    warm_up = getattr(service, "warm_up", None)
    if warm_up is not None:  # the first question should not pay for the encoder's and LLM's first call
        warm_up()
    return service


def create_app(settings: Settings | None = None, service: AnswerService | None = None) -> FastAPI:
    """The app. ``service``: an already loaded AnswerService (tests); otherwise one is loaded at start."""
    settings = settings or Settings()
    runtime = Runtime(settings=settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = LLMWorker(settings.queue_size)
        worker.start()
        runtime.worker = worker
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
                runtime.service = loaded  # one assignment: the moment the app turns ready
                log.info("answer service loaded; ready")

            # A daemon thread, not the loop's executor: Ctrl+C during loading must not wait for it.
            threading.Thread(target=load, name="service-loader", daemon=True).start()
        try:
            yield
        finally:
            await asyncio.to_thread(worker.close)
            runtime.service = runtime.worker = None

    app = FastAPIOffline(title="govreport-rag", version=__version__, lifespan=lifespan,
                         description=DESCRIPTION)
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(answers.router)
    app.include_router(openai_compat.router)
    app.include_router(browse.router)

    # The chat page: static files, no build step, nothing from a CDN. It holds no data, so it is served
    # without the API key; the page asks for the key when the API answers 401.
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # Outermost first: metrics see every response, 413s included.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=runtime.metrics)
    return app
