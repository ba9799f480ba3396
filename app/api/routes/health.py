"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import RegistryDep
from app.registry import ModelRegistry, ModelState
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
async def readiness(registry: RegistryDep, response: Response) -> Readiness:
    readiness = readiness_of(registry)
    if readiness.status is not ModelState.READY:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return readiness


def readiness_of(registry: ModelRegistry) -> Readiness:
    models = {name: ModelHealth(state=s.state, reason=s.reason) for name, s in registry.slots.items()}
    not_ready = {name: h for name, h in models.items() if h.state is not ModelState.READY}
    if not not_ready:
        return Readiness(status=ModelState.READY, models=models)
    overall = (
        ModelState.FAILED
        if any(h.state is ModelState.FAILED for h in not_ready.values())
        else ModelState.STARTING
    )
    detail = "; ".join(registry.slot(name).why_not_serving for name in not_ready)
    return Readiness(status=overall, detail=detail, models=models)
