"""Bodies of the health and readiness probes (`GET /healthz`, `/readyz`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    detail: str = Field(description="What is loaded, or what is still loading / failed.")
    model: str | None = None
