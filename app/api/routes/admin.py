"""Operating the service: swapping a model's checkpoint while it keeps serving."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body

from app.api.deps import ControlDep, SettingsDep
from app.errors import ForbiddenError, InvalidContentError
from app.schemas.admin import ReloadRequest, ReloadResponse
from app.schemas.errors import error_responses
from app.security import RequireAdminKey

log = logging.getLogger(__name__)

# The key is part of the router, not of its include line: admin endpoints are never open.
router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[RequireAdminKey],
    responses=error_responses(
        {
            401: "API key missing or wrong.",
            403: "No API key is configured (admin endpoints are off), or the path is outside "
            "the reload directory.",
        }
    ),
)


_RELOAD_EXAMPLES = {
    "from_path": {"summary": "Serve mnist-v2.pt from the reload folder", "value": {"path": "mnist-v2.pt"}},
    "configured": {"summary": "Read the configured checkpoint again", "value": {}},
}


def allowed_checkpoint_path(requested: str, reload_dir: Path) -> Path:
    """``requested`` inside ``reload_dir``, after resolving symlinks and '..'; anything else is refused."""
    root = reload_dir.resolve()
    try:
        resolved = (root / requested).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # NUL bytes, symlink loops
        raise InvalidContentError(f"path {requested!r} cannot be resolved: {exc}") from None
    if not resolved.is_relative_to(root):
        raise ForbiddenError(f"path {requested!r} is outside the reload directory {reload_dir}")
    return resolved


@router.post(
    "/models/{name}/reload",
    summary="Load a checkpoint and serve it, without downtime",
    description=(
        "Reads the checkpoint (the configured one, or `path` inside the reload directory) in a worker "
        "thread, checks it, then swaps it in at once: requests already running finish on the model they "
        "started with. A bad checkpoint is refused and the current model keeps serving. Reloads of one "
        "model run one at a time. Needs the API key; off when SERVE_API_KEY is not set."
    ),
    response_model=ReloadResponse,
    responses=error_responses(
        {
            400: "A body that cannot be parsed as JSON.",
            404: "No model of that name.",
            422: "The checkpoint is missing, corrupt, another architecture or mis-shaped.",
        }
    ),
)
async def reload_model(
    name: str,
    control: ControlDep,
    settings: SettingsDep,
    body: Annotated[ReloadRequest | None, Body(openapi_examples=_RELOAD_EXAMPLES)] = None,
) -> ReloadResponse:
    control.dataplane.repository.model(name)  # an unknown name is a 404 before anything about the path
    requested = body.path if body is not None else None
    path = allowed_checkpoint_path(requested, settings.reload_dir) if requested is not None else None
    reloaded = await control.reload(name, path)
    new, previous = reloaded.servable.checkpoint, reloaded.previous
    previous_version = previous.version if previous is not None else None
    log.info("model %s now serves version %s (was %s)", name, new.version, previous_version)
    return ReloadResponse(
        name=name,
        architecture=new.architecture,
        version=new.version,
        previous_version=previous_version,
        sha256=new.sha256,
        path=new.path,
        load_seconds=reloaded.load_seconds,
    )
