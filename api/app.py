"""FastAPI application factory. Heavy components are loaded once, in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from rag import __version__
from rag.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.ready = True
        yield

    app = FastAPI(title="govreport-rag", version=__version__, lifespan=lifespan,
                  description="Offline, cited question answering over Chinese government work reports.")

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: models and index are loaded")
    async def readyz() -> dict[str, object]:
        return {"ready": bool(getattr(app.state, "ready", False))}

    return app
