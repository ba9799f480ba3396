"""The Open Inference Protocol's model repository extension: index, load and unload, behind the admin key.

    POST /v2/repository/index                       every model version and its state
    POST /v2/repository/models/{name}/load          serve a model (as POST /admin/models/{name}/load)
    POST /v2/repository/models/{name}/unload        stop serving it

tritonclient calls them as ``get_model_repository_index``, ``load_model`` and ``unload_model``. Both
changes go through the same model control as /admin, so they reach every worker the same way.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from app.api.deps import ControlDep
from app.api.routes.v2 import ProtocolRoute, oip_errors
from app.core.errors import InvalidContentError, MalformedRequestError
from app.schemas.v2 import RepositoryIndexEntry, RepositoryIndexRequest
from app.security import RequireAdminKey

router = APIRouter(
    prefix="/v2/repository",
    tags=["open inference protocol"],
    route_class=ProtocolRoute,
    dependencies=[RequireAdminKey],
    responses=oip_errors(
        {
            400: "A body that is not JSON, or a load with a config or files (this server reads models "
            "only from its repository).",
            401: "API key missing or wrong.",
            403: "No API key is configured: the repository extension is off.",
            404: "No model folder of that name in the repository.",
        }
    ),
)


async def _json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object; tritonclient sends an empty body to the index."""
    body = await request.body()
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedRequestError(f"malformed JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidContentError("the request body must be a JSON object")
    return parsed


@router.post("/index", summary="Every model version in the repository and its state")
async def repository_index(request: Request, control: ControlDep) -> list[RepositoryIndexEntry]:
    ready_only = RepositoryIndexRequest.model_validate(await _json_body(request)).ready
    return [
        RepositoryIndexEntry(name=e.name, version=e.version, state=e.state.value, reason=e.reason)
        for e in control.index(ready_only)
    ]


@router.post("/models/{name}/load", summary="Load a model from the repository")
async def repository_load(name: str, request: Request, control: ControlDep) -> Response:
    await control.load(name, (await _json_body(request)).get("parameters"))
    return Response(status_code=200)


@router.post("/models/{name}/unload", summary="Unload a model")
async def repository_unload(name: str, request: Request, control: ControlDep) -> Response:
    await _json_body(request)  # parameters.unload_dependents: no model here has dependents
    await control.unload(name)
    return Response(status_code=200)
