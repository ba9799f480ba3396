"""Typed protobuf contents to tensors and back, without a server."""

from __future__ import annotations

import pytest
import torch
from google.protobuf.unknown_fields import UnknownFieldSet
from tritonclient.grpc import service_pb2 as pb

from app.binary_tensors import DATATYPES
from app.core.errors import InvalidContentError
from app.grpc_server.tensors import (
    TensorMetadataParameters,
    add_output,
    tensor_from_contents,
    tensor_metadata,
)


def _contents(**fields) -> pb.InferTensorContents:
    return pb.InferTensorContents(**fields)


def test_tensor_from_fp64_contents_keeps_values_and_shape():
    tensor = tensor_from_contents("x", DATATYPES["FP64"], [2, 2], _contents(fp64_contents=[1.5, 2, 3, 4]))
    assert tensor.dtype == torch.float64
    assert tensor.tolist() == [[1.5, 2.0], [3.0, 4.0]]


def test_tensor_from_int8_contents_refuses_values_outside_int8():
    with pytest.raises(InvalidContentError, match=r"INT8 values must be integers in -128\.\.127"):
        tensor_from_contents("x", DATATYPES["INT8"], [2], _contents(int_contents=[-129, 0]))


def test_tensor_from_contents_with_too_few_values():
    with pytest.raises(InvalidContentError, match=r"shape \[2, 3\] holds 6 values, fp32_contents has 5"):
        tensor_from_contents("x", DATATYPES["FP32"], [2, 3], _contents(fp32_contents=[0.0] * 5))


def test_tensor_from_empty_contents_is_an_empty_batch():
    tensor = tensor_from_contents("x", DATATYPES["UINT8"], [0, 784], _contents())
    assert (tensor.shape, tensor.dtype) == (torch.Size([0, 784]), torch.uint8)


def test_add_output_raw_is_little_endian_bytes():
    response = pb.ModelInferResponse()
    add_output(response, "digit", "INT64", [2], [1, 258], raw=True)
    assert response.raw_output_contents == [(1).to_bytes(8, "little") + (258).to_bytes(8, "little")]
    assert not response.outputs[0].HasField("contents")


def test_add_output_typed_fills_the_datatypes_field():
    response = pb.ModelInferResponse()
    add_output(response, "probability", "FP32", [1, 1], [0.25], raw=False)
    assert list(response.outputs[0].contents.fp32_contents) == [0.25]
    assert list(response.outputs[0].shape) == [1, 1]


def test_tensor_metadata_carries_parameters_in_field_4():
    tensor = tensor_metadata("features", "FP32", [-1, 2], {"feature_names": "income,age"})
    extra = TensorMetadataParameters.FromString(tensor.SerializeToString())
    assert [(f.field_number, f.wire_type) for f in UnknownFieldSet(tensor)] == [(4, 2)]  # a map entry
    assert {key: value.string_param for key, value in extra.parameters.items()} == {
        "feature_names": "income,age"
    }
    assert (tensor.name, tensor.datatype, list(tensor.shape)) == ("features", "FP32", [-1, 2])


def test_tensor_metadata_without_parameters_is_triton_s_message():
    tensor = tensor_metadata("pixels", "FP32", [-1, 784], None)
    assert tensor == pb.ModelMetadataResponse.TensorMetadata(name="pixels", datatype="FP32", shape=[-1, 784])
    assert len(UnknownFieldSet(tensor)) == 0
