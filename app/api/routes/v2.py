"""The Open Inference Protocol (KServe V2 REST), with the binary tensor data extension.

Errors here take the protocol's ``{"error": "..."}`` shape. Statuses come from app/errors.py, except
that the protocol has no 422: content a model cannot use is a 400 Bad Request.
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
from app.api.deps import RegistryDep, SettingsDep
from app.binary_tensors import DATATYPES
from app.errors import InvalidContentError, NotFoundError, check_batch_size, status_code_for
from app.registry import ModelRegistry
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
from app.settings import Settings
from app.signatures import Signature, TensorSpec, signature_of
from models import Checkpoint

log = logging.getLogger(__name__)

SERVER_NAME = "digit-logistic-serving"
EXTENSIONS = ["binary_tensor_data"]


class ProtocolRoute(APIRoute):
    """A route that reads binary-extension bodies and answers every error as ``{"error": ...}``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def protocol_handler(request: Request) -> Response:
            try:
                return await handler(await binary_tensors.with_json_header(request))
            except Exception as exc:
                return _error_response(request, exc)

        return protocol_handler


def _error_response(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, RequestValidationError):
        code, message = status.HTTP_400_BAD_REQUEST, _validation_message(exc)
    elif isinstance(exc, HTTPException):
        code, message = exc.status_code, str(exc.detail)
    elif (code := status_code_for(exc)) is not None:
        message = str(exc)
    else:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        code, message = status.HTTP_500_INTERNAL_SERVER_ERROR, "internal server error"
    if code == status.HTTP_422_UNPROCESSABLE_CONTENT:
        code = status.HTTP_400_BAD_REQUEST
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


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProtocolError, "description": description}
    for code, description in {
        400: "Malformed JSON, or tensors the model cannot take.",
        404: "No model, or no model version, of that name.",
        413: "A batch larger than the server's limit.",
        503: "The model is not loaded.",
    }.items()
}

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
async def server_ready(registry: RegistryDep, response: Response) -> ServerReady:
    if not registry.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return ServerReady(ready=registry.ready)


@model_router.get("/{name}", summary="Model metadata: its input and output tensors")
async def model_metadata(name: str, registry: RegistryDep) -> ModelMetadata:
    return _metadata(name, _served(registry, name))


@model_router.get("/{name}/versions/{version}", summary="Model metadata, of one version")
async def model_version_metadata(name: str, version: str, registry: RegistryDep) -> ModelMetadata:
    return _metadata(name, _served(registry, name, version))


@model_router.get("/{name}/ready", summary="Model readiness", response_model=ModelReady)
async def model_ready(name: str, registry: RegistryDep, response: Response) -> ModelReady:
    return _readiness(registry, name, None, response)


@model_router.get("/{name}/versions/{version}/ready", summary="Model readiness, of one version")
async def model_version_ready(
    name: str, version: str, registry: RegistryDep, response: Response
) -> ModelReady:
    return _readiness(registry, name, version, response)


_INFER_DOC = {
    "summary": "Run the model on input tensors",
    "description": "logistic takes `features` FP32 [N, 2] and returns `probability` FP32 [N, 1] and "
    "`label` INT64 [N, 1]. mnist takes `pixels`, raw 0..255 white-on-black, FP32 or UINT8 [N, 784] or "
    "[N, 28, 28], and returns `probabilities` FP32 [N, 10] and `digit` INT64 [N]. Tensors may travel "
    "as binary after the JSON (header `Inference-Header-Content-Length`).",
    "response_model": InferenceResponse,
    "response_model_exclude_none": True,
}


@model_router.post("/{name}/infer", **_INFER_DOC)
async def infer(
    name: str, body: InferenceRequest, request: Request, registry: RegistryDep, settings: SettingsDep
) -> Response:
    return await _infer(name, _served(registry, name), body, request, settings)


@model_router.post("/{name}/versions/{version}/infer", **_INFER_DOC)
async def infer_version(
    name: str,
    version: str,
    body: InferenceRequest,
    request: Request,
    registry: RegistryDep,
    settings: SettingsDep,
) -> Response:
    return await _infer(name, _served(registry, name, version), body, request, settings)


def _served(registry: ModelRegistry, name: str, version: str | None = None) -> Checkpoint:
    checkpoint = registry.get(name)
    if version is not None and version != checkpoint.version:
        raise NotFoundError(f"model {name!r} has no version {version!r}; serving {checkpoint.version!r}")
    return checkpoint


def _readiness(registry: ModelRegistry, name: str, version: str | None, response: Response) -> ModelReady:
    slot = registry.slot(name)
    if slot.checkpoint is None:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return ModelReady(name=name, ready=False)
    _served(registry, name, version)
    return ModelReady(name=name, ready=True)


def _tensor_metadata(spec: TensorSpec) -> TensorMetadata:
    return TensorMetadata(name=spec.name, datatype=spec.datatypes[0], shape=list(spec.shapes[0]))


def _metadata(name: str, checkpoint: Checkpoint) -> ModelMetadata:
    signature = signature_of(checkpoint)
    return ModelMetadata(
        name=name,
        versions=[checkpoint.version],
        platform="pytorch",
        inputs=[_tensor_metadata(signature.input)],
        outputs=[_tensor_metadata(spec) for spec in signature.outputs],
    )


async def _infer(
    name: str, checkpoint: Checkpoint, body: InferenceRequest, request: Request, settings: Settings
) -> Response:
    signature = signature_of(checkpoint)
    requested = _requested_outputs(name, signature, body)
    inputs = _input_tensor(name, signature, body, request, settings)
    runner = request.app.state.runners[name]
    results = signature.name_outputs(await runner(checkpoint, signature.prepare(checkpoint, inputs)))
    batch_size = inputs.shape[0]
    outputs, chunks = [], []
    for spec, binary in requested:
        datatype = DATATYPES[spec.datatypes[0]]
        output = ResponseOutput(name=spec.name, shape=spec.shape_for(batch_size), datatype=datatype.name)
        if binary:
            chunks.append(binary_tensors.to_bytes(datatype, results[spec.name]))
            output.parameters = {"binary_data_size": len(chunks[-1])}
        else:
            output.data = results[spec.name]
        outputs.append(output)
    response = InferenceResponse(
        model_name=name, model_version=checkpoint.version, id=body.id, outputs=outputs
    )
    return binary_tensors.encode_response(response.model_dump_json(exclude_none=True).encode(), chunks)


def _requested_outputs(
    name: str, signature: Signature, body: InferenceRequest
) -> list[tuple[TensorSpec, bool]]:
    """(output, whether it goes back as binary) for each output to return, in the order asked for."""
    all_binary = bool((body.parameters or {}).get("binary_data_output", False))
    if body.outputs is None:
        return [(spec, all_binary) for spec in signature.outputs]
    requested, seen = [], set()
    for output in body.outputs:
        spec = signature.output(output.name)
        if spec is None:
            known = ", ".join(o.name for o in signature.outputs)
            raise InvalidContentError(f"model {name!r} has no output {output.name!r}; outputs: {known}")
        if spec.name in seen:  # each would be answered in full: a small request, a huge response
            raise InvalidContentError(f"output {spec.name!r} is requested twice")
        seen.add(spec.name)
        requested.append((spec, bool((output.parameters or {}).get("binary_data", all_binary))))
    return requested


def _input_tensor(
    name: str, signature: Signature, body: InferenceRequest, request: Request, settings: Settings
) -> torch.Tensor:
    spec = signature.input
    if len(body.inputs) != 1 or body.inputs[0].name != spec.name:
        sent = ", ".join(repr(i.name) for i in body.inputs)
        raise InvalidContentError(f"model {name!r} takes one input, {spec.name!r}; got {sent}")
    tensor = body.inputs[0]
    if tensor.datatype not in spec.datatypes:
        raise InvalidContentError(
            f"input {spec.name!r}: datatype {tensor.datatype} is not accepted; use one of "
            + ", ".join(spec.datatypes)
        )
    if not spec.accepts_shape(tensor.shape):
        accepted = " or ".join(str(list(shape)) for shape in spec.shapes)
        raise InvalidContentError(f"input {spec.name!r}: shape {tensor.shape} is not {accepted}")
    check_batch_size(tensor.shape[0], settings.max_batch_size)
    return _decode(tensor, request)


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
