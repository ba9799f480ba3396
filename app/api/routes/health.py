"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import DataPlaneDep
from app.core.repository import ModelRepository, ModelState
from app.schemas.health import Liveness, ModelHealth, Readiness

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", summary="Liveness: the process answers", response_model=Liveness)
async def liveness() -> Liveness:
    return Liveness()


@router.get(
    "/ready",
    summary="Readiness: every model is loaded",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Models still loading, or one failed to load."}},
)
async def readiness(dataplane: DataPlaneDep, response: Response) -> Readiness:
    readiness = readiness_of(dataplane.repository)
    if readiness.status is not ModelState.READY:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return readiness


def readiness_of(repository: ModelRepository) -> Readiness:
    if not repository.scanned:
        return Readiness(status=ModelState.STARTING, detail="the model repository is being read", models={})
    models = {name: ModelHealth(state=m.state, reason=m.reason) for name, m in repository.models.items()}
    not_ready = {
        name: h for name, h in models.items() if h.state not in (ModelState.READY, ModelState.UNLOADED)
    }
    if not not_ready:
        return Readiness(status=ModelState.READY, models=models)
    overall = (
        ModelState.FAILED
        if any(h.state is ModelState.FAILED for h in not_ready.values())
        else ModelState.STARTING
    )
    detail = "; ".join(repository.models[name].why_not_serving for name in not_ready)
    return Readiness(status=overall, detail=detail, models=models)
