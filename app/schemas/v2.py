"""Bodies of the Open Inference Protocol (KServe V2) endpoints, as the specification names them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

# A dimension of a tensor: no tensor this server takes comes near 2**31 along any axis, and a bound keeps a
# 400-digit "size" from reaching arithmetic or messages.
Dimension = Annotated[int, Field(ge=0, le=2**31 - 1)]

# Free-form key/value pairs; the ones this server reads are documented where they are read.
Parameters = dict[str, Any]

_LOGISTIC_REQUEST = {
    "id": "42",
    "inputs": [{"name": "features", "shape": [2, 2], "datatype": "FP32", "data": [[1.0, 2.0], [5.0, 3.0]]}],
}
_LOGISTIC_RESPONSE = {
    "model_name": "logistic",
    "model_version": "20261124.120000",
    "id": "42",
    "outputs": [
        {"name": "probability", "shape": [2, 1], "datatype": "FP32", "data": [0.0001, 0.9734]},
        {"name": "label", "shape": [2, 1], "datatype": "INT64", "data": [0, 1]},
    ],
}


class ProtocolError(BaseModel):
    error: str = Field(description="What went wrong.", examples=["unknown model 'nope'; available: ..."])


class ServerMetadata(BaseModel):
    name: str = Field(examples=["digit-logistic-serving"])
    version: str = Field(examples=["0.1.0"])
    extensions: list[str] = Field(examples=[["binary_tensor_data"]])


class ServerLive(BaseModel):
    live: bool


class ServerReady(BaseModel):
    ready: bool = Field(description="True when every model is ready.")


class ModelReady(BaseModel):
    name: str = Field(examples=["mnist"])
    ready: bool


class TensorMetadata(BaseModel):
    name: str = Field(examples=["pixels"])
    datatype: str = Field(examples=["FP32"])
    shape: list[int] = Field(description="-1 marks a variable dimension (the batch).", examples=[[-1, 784]])
    parameters: dict[str, str] | None = Field(
        None,
        description="logistic `features`: `feature_names`, the columns' names in order, comma-separated.",
        examples=[{"feature_names": "income,age"}],
    )


class ModelMetadata(BaseModel):
    name: str = Field(examples=["mnist"])
    versions: list[str] = Field(description="Every version serving, in order.", examples=[["1", "2"]])
    platform: str = Field(examples=["pytorch"])
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class RepositoryIndexRequest(BaseModel):
    ready: bool = Field(False, description="Only the versions that are ready.")


class RepositoryIndexEntry(BaseModel):
    name: str = Field(examples=["mnist"])
    version: str = Field(examples=["2"])
    state: str = Field(description="READY, LOADING or UNAVAILABLE.", examples=["READY"])
    reason: str = Field(description="Why a version is UNAVAILABLE: unloaded, or its load failure.")


class RequestInput(BaseModel):
    name: str = Field(examples=["features"])
    shape: list[Dimension] = Field(examples=[[2, 2]])
    datatype: str = Field(examples=["FP32"])
    parameters: Parameters | None = Field(
        None, description="`binary_data_size`: the tensor's bytes follow the JSON (binary extension)."
    )
    data: list[Any] | None = Field(
        None, description="Row-major values, flat or nested; absent when the tensor is sent as binary."
    )


class RequestOutput(BaseModel):
    name: str = Field(examples=["probability"])
    parameters: Parameters | None = Field(
        None, description="`binary_data: true` returns this output as bytes after the JSON."
    )


class InferenceRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_LOGISTIC_REQUEST]})

    id: str | None = Field(None, description="Echoed in the response.")
    parameters: Parameters | None = Field(
        None, description="`binary_data_output: true` returns every output as bytes after the JSON."
    )
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = Field(
        None, description="The outputs to return, in this order; all of them when absent."
    )


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: list[Any] | None = None


class InferenceResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_LOGISTIC_RESPONSE]})

    model_name: str
    model_version: str
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]
