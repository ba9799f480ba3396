"""GRPCInferenceService: each RPC is a data-plane call, translated from and to the protocol's messages.

The messages and the service stubs are those tritonclient ships (tritonclient/grpc/service_pb2*.py);
Triton's service is the protocol's plus extensions: the model repository's RPCs are served here, on the
same model control as REST's /v2/repository; those not overridden (statistics, shared memory,
streaming) answer UNIMPLEMENTED through the interceptor.
"""

from __future__ import annotations

from collections.abc import Sequence

from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

from app.binary_tensors import tensor_from_bytes
from app.core.control import ModelControl
from app.core.dataplane import SERVER_NAME, DataPlane, InputTensor
from app.core.errors import InvalidContentError, MalformedRequestError
from app.core.servables import TensorSpec
from app.grpc_server.tensors import add_output, datatype_of, tensor_from_contents, tensor_metadata

# REST's binary_tensor_data has no gRPC counterpart to announce: raw contents are the protocol's own.
EXTENSIONS = ["model_repository"]


def _tensor_metadata(spec: TensorSpec) -> pb.ModelMetadataResponse.TensorMetadata:
    return tensor_metadata(spec.name, spec.datatypes[0], list(spec.shapes[0]), spec.parameters)


def _input(tensor: pb.ModelInferRequest.InferInputTensor, raw: bytes | None) -> InputTensor:
    """One request input, decoded only once the data plane has accepted its name, datatype and shape."""
    name, shape = tensor.name, list(tensor.shape)
    if any(d < 0 for d in shape):
        raise InvalidContentError(f"input {name!r}: shape {shape} has a negative dimension")
    if raw is not None and tensor.HasField("contents"):
        raise MalformedRequestError(
            f"input {name!r}: send its values in contents or in raw_input_contents, not both"
        )

    def decode():
        datatype = datatype_of(name, tensor.datatype)
        if raw is not None:
            return tensor_from_bytes(name, datatype, shape, raw)  # as REST's binary tensors
        return tensor_from_contents(name, datatype, shape, tensor.contents)

    return InputTensor(name=name, datatype=tensor.datatype, shape=shape, decode=decode)


def _inputs(request: pb.ModelInferRequest) -> list[InputTensor]:
    raw: Sequence[bytes] = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise MalformedRequestError(
            f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs; "
            "send one per input, in input order"
        )
    return [_input(tensor, raw[i] if raw else None) for i, tensor in enumerate(request.inputs)]


class InferenceServicer(service_pb2_grpc.GRPCInferenceServiceServicer):
    def __init__(self, dataplane: DataPlane, control: ModelControl, server_version: str) -> None:
        self.dataplane = dataplane
        self.control = control
        self.server_version = server_version

    def is_ready(self) -> bool:
        return self.dataplane.ready()

    async def ServerLive(self, request: pb.ServerLiveRequest, context) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=self.dataplane.live())

    async def ServerReady(self, request: pb.ServerReadyRequest, context) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.dataplane.ready())

    async def ServerMetadata(self, request: pb.ServerMetadataRequest, context) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=self.server_version, extensions=EXTENSIONS)

    async def ModelReady(self, request: pb.ModelReadyRequest, context) -> pb.ModelReadyResponse:
        return pb.ModelReadyResponse(ready=self.dataplane.model_ready(request.name, request.version or None))

    async def ModelMetadata(self, request: pb.ModelMetadataRequest, context) -> pb.ModelMetadataResponse:
        metadata = self.dataplane.metadata(request.name, request.version or None)
        return pb.ModelMetadataResponse(
            name=metadata.name,
            versions=metadata.versions,
            platform=metadata.platform,
            inputs=[_tensor_metadata(spec) for spec in metadata.inputs],
            outputs=[_tensor_metadata(spec) for spec in metadata.outputs],
        )

    async def ModelInfer(self, request: pb.ModelInferRequest, context) -> pb.ModelInferResponse:
        wanted = [output.name for output in request.outputs] or None
        result = await self.dataplane.infer(
            request.model_name, request.model_version or None, _inputs(request), wanted
        )
        response = pb.ModelInferResponse(
            model_name=result.model_name, model_version=result.model_version, id=request.id
        )
        raw = bool(request.raw_input_contents)  # raw answers to raw requests, typed to typed
        for spec, values in result.outputs:
            shape = spec.shape_for(result.batch_size)
            add_output(response, spec.name, spec.datatypes[0], shape, values, raw=raw)
        return response

    # The model repository extension (the interceptor lets only the admin key through).

    async def RepositoryIndex(
        self, request: pb.RepositoryIndexRequest, context
    ) -> pb.RepositoryIndexResponse:
        # repository_name: this server has one repository, as REST's index has no name.
        index = pb.RepositoryIndexResponse()
        for entry in self.control.index(request.ready):
            index.models.add(
                name=entry.name, version=entry.version, state=entry.state.value, reason=entry.reason
            )
        return index

    async def RepositoryModelLoad(
        self, request: pb.RepositoryModelLoadRequest, context
    ) -> pb.RepositoryModelLoadResponse:
        await self.control.load(request.model_name, dict(request.parameters))
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(
        self, request: pb.RepositoryModelUnloadRequest, context
    ) -> pb.RepositoryModelUnloadResponse:
        # parameters: unload_dependents, which tritonclient always sends; no model here has dependents.
        await self.control.unload(request.model_name)
        return pb.RepositoryModelUnloadResponse()
