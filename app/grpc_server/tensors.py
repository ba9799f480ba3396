"""Tensors in the protocol's protobuf messages: typed ``contents``, or raw little-endian bytes.

A request sends each input either in the ``InferTensorContents`` field of its datatype, or as one entry of
``raw_input_contents`` (then for every input, in input order). Raw bytes go through the same decoder as
REST's binary tensor extension; typed contents are checked against the datatype's range, as JSON data is.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from tritonclient.grpc import service_pb2 as pb

from app.binary_tensors import DATATYPES, Datatype, to_bytes
from app.core.errors import InvalidContentError

# The InferTensorContents field each datatype travels in (the specification's table).
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}

_FLOAT_TYPES = {"FP32": np.float32, "FP64": np.float64}


def datatype_of(name: str, datatype: str) -> Datatype:
    try:
        return DATATYPES[datatype]
    except KeyError:
        raise InvalidContentError(
            f"input {name!r}: datatype {datatype or '(none)'} is not one of " + ", ".join(DATATYPES)
        ) from None


def tensor_from_contents(name: str, datatype: Datatype, shape: list[int], contents) -> torch.Tensor:
    """An ``InferTensorContents`` message -> a tensor of ``datatype`` and ``shape``."""
    field = CONTENTS_FIELD[datatype.name]
    others = [f.name for f, _ in contents.ListFields() if f.name != field]
    if others:
        raise InvalidContentError(
            f"input {name!r}: {datatype.name} contents go in {field}, not {', '.join(others)}"
        )
    values = getattr(contents, field)
    if len(values) != math.prod(shape):
        raise InvalidContentError(
            f"input {name!r}: shape {shape} holds {math.prod(shape)} values, {field} has {len(values)}"
        )
    # numpy reads a repeated field in one pass: 0.08 ms for 64 images' pixels, where torch.tensor() takes
    # 33 ms going value by value. Integers are read wide, so that values outside the datatype are refused
    # rather than wrapped (the protobuf field of UINT8 is a uint32).
    array = np.asarray(values, dtype=np.int64 if datatype.is_integer else _FLOAT_TYPES[datatype.name])
    if datatype.is_integer:
        info = torch.iinfo(datatype.torch_dtype)
        if array.size and (array.min() < info.min or array.max() > info.max):
            raise InvalidContentError(
                f"input {name!r}: {datatype.name} values must be integers in {info.min}..{info.max}"
            )
    return torch.from_numpy(array).to(datatype.torch_dtype).reshape(shape)


def add_output(response, name: str, datatype: str, shape: list[int], values: list, *, raw: bool) -> None:
    """Append one output tensor to a ``ModelInferResponse``, as raw bytes or in its typed contents."""
    output = response.outputs.add(name=name, datatype=datatype, shape=shape)
    if raw:
        response.raw_output_contents.append(to_bytes(DATATYPES[datatype], values))
    else:
        getattr(output.contents, CONTENTS_FIELD[datatype]).extend(values)


def _tensor_metadata_parameters() -> type:
    """The one field that Triton's ``TensorMetadata`` lacks: ``map<string, InferParameter> parameters = 4``.

    REST's metadata gives a tensor its parameters (a logistic model's ``feature_names``); over gRPC they
    travel where MLServer's protocol puts them, field 4 of ``TensorMetadata``, as string parameters.
    tritonclient's message keeps the field as an unknown one and passes it on; clients built from
    MLServer's ``dataplane.proto`` read it. Declared here, as the installed stubs have no such message.
    """
    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="digit_serving/tensor_metadata_parameters.proto",
        package="digit_serving",
        syntax="proto3",
        dependency=[pb.DESCRIPTOR.name],
    )
    message = file.message_type.add(name="TensorMetadataParameters")
    entry = message.nested_type.add(name="ParametersEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    entry.field.add(
        name="value",
        number=2,
        type=field.TYPE_MESSAGE,
        label=field.LABEL_OPTIONAL,
        type_name=f".{pb.InferParameter.DESCRIPTOR.full_name}",
    )
    message.field.add(
        name="parameters",
        number=4,
        type=field.TYPE_MESSAGE,
        label=field.LABEL_REPEATED,
        type_name=".digit_serving.TensorMetadataParameters.ParametersEntry",
    )
    pool = descriptor_pool.Default()
    pool.Add(file)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("digit_serving.TensorMetadataParameters")
    )


TensorMetadataParameters = _tensor_metadata_parameters()


def tensor_metadata(
    name: str, datatype: str, shape: list[int], parameters: dict[str, str] | None
) -> pb.ModelMetadataResponse.TensorMetadata:
    """A ``TensorMetadata`` message, with REST's tensor parameters in field 4 when it has any."""
    tensor = pb.ModelMetadataResponse.TensorMetadata(name=name, datatype=datatype, shape=shape)
    if parameters:
        extra = TensorMetadataParameters()
        for key, value in parameters.items():
            extra.parameters[key].string_param = value
        tensor.MergeFromString(extra.SerializeToString())
    return tensor
