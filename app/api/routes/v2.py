"""The Open Inference Protocol (KServe V2 REST), with the binary tensor data extension.

A thin translator: every call is a data-plane call (app/core/dataplane.py). Errors here take the
protocol's ``{"error": "..."}`` shape, with statuses from app/errors.py's one map (``OIP_STATUS``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import torch
from fastapi import APIRouter, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException  # FastAPI's own HTTPException is a subclass of it

from app import binary_tensors
from app.api import oip_body
from app.api.deps import DataPlaneDep
from app.api.heavy_work import turn_for
from app.binary_tensors import DATATYPES
from app.core.dataplane import SERVER_NAME, DataPlane, InputTensor
from app.core.servables import TensorSpec
from app.errors import OIP_STATUS, InvalidContentError, status_code_for
from app.schemas.v2 import (
    InferenceRequest,
    InferenceResponse,
    ModelMetadata,
    ModelReady,
    ProtocolError,
    RequestInput,
    ResponseOutput,
    ServerLive,
    ServerMetadata,
    ServerReady,
    TensorMetadata,
)

log = logging.getLogger(__name__)

EXTENSIONS = ["binary_tensor_data", "model_repository"]


class ProtocolRoute(APIRoute):
    """A route that reads binary-extension bodies and answers every error as ``{"error": ...}``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        infer = self.path.endswith("/infer")

        async def protocol_handler(request: Request) -> Response:
            try:
                request = await binary_tensors.with_json_header(request)
                header = await request.body()
                if infer:  # a large body is judged before it is parsed
                    _refuse_oversized(request, header)
                async with turn_for(request, len(header)):
                    return await handler(request)
            except Exception as exc:
                return _error_response(request, exc)

        return protocol_handler


def _refuse_oversized(request: Request, header: bytes) -> None:
    if len(header) < oip_body.JUDGED_BODY_BYTES:
        return
    name, version = request.path_params["name"], request.path_params.get("version")
    dataplane: DataPlane = request.app.state.dataplane
    spec = dataplane.servable(name, version).signature.input  # unknown or not serving: 404 or 503 first
    oip_body.refuse_oversized(header, spec, name, dataplane.max_batch_size)


def _error_response(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, RequestValidationError):
        code, message = status.HTTP_400_BAD_REQUEST, _validation_message(exc)
    elif isinstance(exc, HTTPException):
        code, message = exc.status_code, str(exc.detail)
    elif (code := status_code_for(exc, OIP_STATUS)) is not None:
        message = str(exc)
    else:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        code, message = status.HTTP_500_INTERNAL_SERVER_ERROR, "internal server error"
    headers = exc.headers if isinstance(exc, HTTPException) else None  # e.g. a 401's WWW-Authenticate
    return JSONResponse({"error": message}, status_code=code, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors():
        if error["type"] == "json_invalid":
            return f"malformed JSON: {error.get('ctx', {}).get('error', error['msg'])}"
        where = ".".join(str(part) for part in error["loc"] if part != "body") or "request body"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def oip_errors(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` for error statuses with the protocol's ``{"error": ...}`` body."""
    return {code: {"model": ProtocolError, "description": text} for code, text in descriptions.items()}


_ERRORS = oip_errors(
    {
        400: "Malformed JSON, or tensors the model cannot take.",
        404: "No model, or no model version, of that name.",
        413: "A batch larger than the server's limit.",
        503: "The model (or that version) is not serving: loading, failed or unloaded.",
    }
)

_ROUTER_OPTIONS: dict[str, Any] = {
    "tags": ["open inference protocol"],
    "route_class": ProtocolRoute,
    "responses": _ERRORS,
}
# Two routers, so that the app can guard the model endpoints and leave the probes open.
router = APIRouter(prefix="/v2", **_ROUTER_OPTIONS)
model_router = APIRouter(prefix="/v2/models", **_ROUTER_OPTIONS)


@router.get("", summary="Server metadata", response_model=ServerMetadata)
async def server_metadata(request: Request) -> ServerMetadata:
    return ServerMetadata(name=SERVER_NAME, version=request.app.version, extensions=EXTENSIONS)


@router.get("/health/live", summary="Server liveness", response_model=ServerLive)
async def server_live() -> ServerLive:
    return ServerLive(live=True)


@router.get("/health/ready", summary="Server readiness: every model is ready", response_model=ServerReady)
async def server_ready(dataplane: DataPlaneDep, response: Response) -> ServerReady:
    ready = dataplane.ready()
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return ServerReady(ready=ready)


@model_router.get(
    "/{name}",
    summary="Model metadata: its versions, input and output tensors",
    response_model_exclude_none=True,
)
async def model_metadata(name: str, dataplane: DataPlaneDep) -> ModelMetadata:
    return _metadata(dataplane, name, None)


@model_router.get(
    "/{name}/versions/{version}", summary="Model metadata, of one version", response_model_exclude_none=True
)
async def model_version_metadata(name: str, version: str, dataplane: DataPlaneDep) -> ModelMetadata:
    return _metadata(dataplane, name, version)


@model_router.get("/{name}/ready", summary="Model readiness", response_model=ModelReady)
async def model_ready(name: str, dataplane: DataPlaneDep, response: Response) -> ModelReady:
    return _readiness(dataplane, name, None, response)


@model_router.get("/{name}/versions/{version}/ready", summary="Model readiness, of one version")
async def model_version_ready(
    name: str, version: str, dataplane: DataPlaneDep, response: Response
) -> ModelReady:
    return _readiness(dataplane, name, version, response)


_INFER_DOC = {
    "summary": "Run the model on input tensors",
    "description": "A logistic regression takes `features` FP32 [N, F], its columns in the order of the "
    "metadata's `feature_names`, and returns `probability` FP32 "
    "[N, 1] and `label` INT64 [N, 1]. A digit model takes `pixels`, raw 0..255 white-on-black, FP32 or "
    "UINT8 [N, 784] or [N, 28, 28], and returns `probabilities` FP32 [N, 10] and `digit` INT64 [N]. "
    "Tensors may travel as binary after the JSON (header `Inference-Header-Content-Length`).",
    "response_model": InferenceResponse,
    "response_model_exclude_none": True,
}


@model_router.post("/{name}/infer", **_INFER_DOC)
async def infer(name: str, body: InferenceRequest, request: Request, dataplane: DataPlaneDep) -> Response:
    return await _infer(dataplane, name, None, body, request)


@model_router.post("/{name}/versions/{version}/infer", **_INFER_DOC)
async def infer_version(
    name: str, version: str, body: InferenceRequest, request: Request, dataplane: DataPlaneDep
) -> Response:
    return await _infer(dataplane, name, version, body, request)


def _readiness(dataplane: DataPlane, name: str, version: str | None, response: Response) -> ModelReady:
    ready = dataplane.model_ready(name, version)
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return ModelReady(name=name, ready=ready)


def _tensor_metadata(spec: TensorSpec) -> TensorMetadata:
    return TensorMetadata(
        name=spec.name, datatype=spec.datatypes[0], shape=list(spec.shapes[0]), parameters=spec.parameters
    )


def _metadata(dataplane: DataPlane, name: str, version: str | None) -> ModelMetadata:
    metadata = dataplane.metadata(name, version)
    return ModelMetadata(
        name=metadata.name,
        versions=metadata.versions,
        platform=metadata.platform,
        inputs=[_tensor_metadata(spec) for spec in metadata.inputs],
        outputs=[_tensor_metadata(spec) for spec in metadata.outputs],
    )


async def _infer(
    dataplane: DataPlane, name: str, version: str | None, body: InferenceRequest, request: Request
) -> Response:
    all_binary = bool((body.parameters or {}).get("binary_data_output", False))
    binary_outputs = {
        o.name: bool((o.parameters or {}).get("binary_data", all_binary)) for o in body.outputs or ()
    }
    wanted = [o.name for o in body.outputs] if body.outputs is not None else None
    inputs = [_input_tensor(tensor, request) for tensor in body.inputs]
    result = await dataplane.infer(name, version, inputs, wanted)
    outputs, chunks = [], []
    for spec, values in result.outputs:
        datatype = DATATYPES[spec.datatypes[0]]
        output = ResponseOutput(
            name=spec.name, shape=spec.shape_for(result.batch_size), datatype=datatype.name
        )
        if binary_outputs.get(spec.name, all_binary):
            chunks.append(binary_tensors.to_bytes(datatype, values))
            output.parameters = {"binary_data_size": len(chunks[-1])}
        else:
            output.data = values
        outputs.append(output)
    response = InferenceResponse(
        model_name=result.model_name, model_version=result.model_version, id=body.id, outputs=outputs
    )
    return binary_tensors.encode_response(response.model_dump_json(exclude_none=True).encode(), chunks)


def _input_tensor(tensor: RequestInput, request: Request) -> InputTensor:
    return InputTensor(tensor.name, tensor.datatype, tensor.shape, lambda: _decode(tensor, request))


def _decode(tensor: RequestInput, request: Request) -> torch.Tensor:
    datatype = DATATYPES[tensor.datatype]
    binary = binary_tensors.binary_data(request)
    binary_size = (tensor.parameters or {}).get("binary_data_size")
    if binary_size is None:
        if tensor.data is None:
            raise InvalidContentError(f"input {tensor.name!r} has neither data nor binary_data_size")
        return binary_tensors.tensor_from_json(
            tensor.name,
            datatype,
            tensor.shape,
            tensor.data,
            may_hold_booleans=binary_tensors.may_hold_booleans(request),
        )
    if tensor.data is not None or binary_size != len(binary):
        raise InvalidContentError(
            f"input {tensor.name!r}: binary_data_size {binary_size!r} must be the {len(binary)} bytes "
            "after the JSON header, with no data"
        )
    return binary_tensors.tensor_from_bytes(tensor.name, datatype, tensor.shape, binary)
