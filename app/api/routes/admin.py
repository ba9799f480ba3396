"""Operating the repository: load, unload, reload and pin models, in every worker, without downtime.

Each call changes the repository on disk (the model's config.json), so every worker converges to it
within about two poll intervals and a restarted worker starts from it; the worker that took the call
has converged before it answers. The answer is the model as that worker now serves it (as GET /models).
"""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ControlDep
from app.api.routes.models import model_info
from app.schemas.admin import PinRequest
from app.schemas.errors import error_responses
from app.schemas.health import ModelInfo
from app.security import RequireAdminKey

# The key is part of the router, not of its include line: admin endpoints are never open.
router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[RequireAdminKey],
    responses=error_responses(
        {
            401: "API key missing or wrong.",
            403: "No API key is configured: admin endpoints are off.",
            400: "A body that cannot be parsed as JSON.",
            404: "No model (folder) of that name in the repository, or no such version.",
            409: "The repository cannot be changed (read-only, or a config.json that cannot be read).",
        }
    ),
)


@router.post(
    "/models/{name}/load",
    summary="Serve a model (its versions as its policy says), reading its files again",
    response_model=ModelInfo,
)
async def load_model(name: str, control: ControlDep) -> ModelInfo:
    return model_info(await control.load(name))


@router.post(
    "/models/{name}/unload",
    summary="Stop serving every version of a model",
    description="Requests already running finish on the version they started with. Lasts until a load.",
    response_model=ModelInfo,
)
async def unload_model(name: str, control: ControlDep) -> ModelInfo:
    return model_info(await control.unload(name))


@router.post(
    "/models/{name}/reload",
    summary="Read a model's version files again",
    description="For a file replaced in place. A file that fails to load is refused: the version it "
    "would have replaced keeps serving, and /models shows why.",
    response_model=ModelInfo,
)
async def reload_model(name: str, control: ControlDep) -> ModelInfo:
    return model_info(await control.reload(name))


@router.put(
    "/models/{name}/default",
    summary="Pin the version that requests without a version get",
    description="`version: null` unpins: the latest version serving is the default again. A pinned "
    "version serves whatever the version policy says.",
    response_model=ModelInfo,
    responses=error_responses(
        {409: "That version cannot serve (its file fails to load), or the repository cannot be changed."}
    ),
)
async def pin_default_version(name: str, body: PinRequest, control: ControlDep) -> ModelInfo:
    return model_info(await control.pin(name, body.version))
