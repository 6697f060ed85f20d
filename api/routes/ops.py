"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse

from api.deps import RuntimeDep, require_api_key
from api.errors import public_text
from api.schemas.errors import error_responses
from api.schemas.health import Health, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers (never needs a key)",
            responses=error_responses(421))
async def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Readiness, summary="Readiness: models, index and LLM are loaded",
            responses={503: {"model": Readiness, "description": "Still loading, or loading failed."},
                       **error_responses(421)})
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    if runtime.ready:
        body = Readiness(ready=True, detail="models, index and corpus loaded",
                         model=runtime.service.model_name if runtime.service is not None else None)
        return JSONResponse(body.model_dump())
    if runtime.load_error is not None:
        detail = public_text(f"loading failed: {runtime.load_error}")
    else:
        detail = "loading models and index"
    return JSONResponse(Readiness(ready=False, detail=detail).model_dump(), status_code=503,
                        headers={"Retry-After": "5"})


@router.get("/metrics", response_class=PlainTextResponse, dependencies=[Depends(require_api_key)],
            responses=error_responses(401, 421, non_json_route=True),
            summary="Prometheus metrics (text exposition format)")
async def metrics(runtime: RuntimeDep) -> PlainTextResponse:
    worker = runtime.worker
    text = runtime.metrics.render(
        queue_depth=worker.depth if worker else 0, queue_size=runtime.settings.queue_size,
        busy=worker.busy if worker else False, ready=runtime.ready,
        jobs=dict(worker.jobs_total) if worker else {},
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")
