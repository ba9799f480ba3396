"""GRPCInferenceService through tritonclient.grpc against a live server: the same answers as REST."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from conftest import digit_pixels, served_settings
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from live_server import serve
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc
from tritonclient.utils import InferenceServerException

import models
from app.grpc_server.tensors import TensorMetadataParameters
from app.main import create_app
from models import LogisticConfig, LogisticRegression

from .conftest import grpc_settings

FEATURES = np.array([[1.0, 2.0], [5.0, 3.0], [4.0, 3.0]])


def _input(name: str, array: np.ndarray, datatype: str) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array.astype(triton.triton_to_np_dtype(datatype)))
    return tensor


def _digits(count: int) -> np.ndarray:
    return np.stack([digit_pixels(seed).numpy() for seed in range(count)])


def _typed_request(
    model: str, name: str, datatype: str, array: np.ndarray, field: str
) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=model)
    tensor = request.inputs.add(name=name, datatype=datatype, shape=list(array.shape))
    getattr(tensor.contents, field).extend(array.flatten().tolist())
    return request


def _outputs(response: pb.ModelInferResponse) -> dict[str, pb.ModelInferResponse.InferOutputTensor]:
    return {output.name: output for output in response.outputs}


def _error(call, *args, **kwargs) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value.code(), caught.value.details()


def test_grpc_server_is_live_and_ready(triton_client):
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()


def test_grpc_model_ready_by_version(triton_client):
    assert triton_client.is_model_ready("mnist")
    assert triton_client.is_model_ready("mnist", model_version="1")


def test_grpc_model_ready_of_an_unknown_version_is_not_found(stub):  # as REST's 404
    assert _error(stub.ModelReady, pb.ModelReadyRequest(name="mnist", version="9")) == (
        grpc.StatusCode.NOT_FOUND,
        "model 'mnist' has no version '9' serving; serving: 1",
    )


def test_grpc_server_metadata(triton_client):
    metadata = triton_client.get_server_metadata(as_json=True)
    assert metadata == {
        "name": "digit-logistic-serving",
        "version": "0.1.0",
        "extensions": ["model_repository"],  # binary_tensor_data is REST's; raw contents are gRPC's own
    }


def _metadata_as_rest(message: pb.ModelMetadataResponse) -> dict:
    """A ModelMetadataResponse as REST's JSON: int shapes, and each tensor's parameters (field 4)."""
    metadata = json_format.MessageToDict(message, preserving_proto_field_name=True)
    tensors = zip(metadata["inputs"] + metadata["outputs"], [*message.inputs, *message.outputs], strict=True)
    for tensor, sent in tensors:
        tensor["shape"] = [int(d) for d in tensor["shape"]]  # protobuf's JSON writes int64 as strings
        parameters = TensorMetadataParameters.FromString(sent.SerializeToString()).parameters
        if parameters:
            tensor["parameters"] = {key: value.string_param for key, value in parameters.items()}
    return metadata


@pytest.mark.parametrize("model", ["logistic", "mnist"])
def test_grpc_model_metadata_equals_rest(triton_client, http, model):
    metadata = _metadata_as_rest(triton_client.get_model_metadata(model))
    assert metadata == http.get(f"/v2/models/{model}").json()


def test_grpc_model_metadata_of_a_version_equals_rest(triton_client, http):
    metadata = _metadata_as_rest(triton_client.get_model_metadata("logistic", model_version="1"))
    assert metadata == http.get("/v2/models/logistic/versions/1").json()


def test_grpc_model_metadata_carries_named_features_and_versions(tmp_path):
    settings = grpc_settings(served_settings(tmp_path))
    folder = settings.model_repository / "income"
    config = LogisticConfig(feature_names=("income", "age"))
    for version in ("1", "2"):
        models.save(LogisticRegression(config), folder / f"{version}.pt", version=version)
    (folder / "config.json").write_text('{"version_policy": {"all": {}}}')  # both versions serve
    with (
        serve(create_app(settings, grpc=True)) as live,
        grpc.insecure_channel(f"127.0.0.1:{settings.grpc_port}") as channel,
    ):
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        metadata = _metadata_as_rest(stub.ModelMetadata(pb.ModelMetadataRequest(name="income")))
        rest = httpx.get(f"{live.url}/v2/models/income").json()

    assert metadata["versions"] == ["1", "2"]
    assert metadata["inputs"] == [
        {
            "name": "features",
            "datatype": "FP32",
            "shape": [-1, 2],
            "parameters": {"feature_names": "income,age"},
        }
    ]
    assert metadata == rest


@pytest.mark.parametrize("datatype", ["FP32", "FP64"])
def test_grpc_logistic_raw_matches_predict(triton_client, http, datatype):
    result = triton_client.infer("logistic", [_input("features", FEATURES, datatype)], request_id="r1")
    expected = http.post("/predict/logistic", json={"instances": FEATURES.tolist()}).json()["predictions"]
    response = result.get_response()
    assert (response.id, response.model_version) == ("r1", "1")
    assert len(response.raw_output_contents) == 2
    assert result.as_numpy("probability").tolist() == [[np.float32(p["probability"])] for p in expected]
    assert result.as_numpy("label").tolist() == [[p["label"]] for p in expected]


def test_grpc_logistic_typed_contents_match_predict(stub, http):
    response = stub.ModelInfer(_typed_request("logistic", "features", "FP64", FEATURES, "fp64_contents"))
    expected = http.post("/predict/logistic", json={"instances": FEATURES.tolist()}).json()["predictions"]
    outputs = _outputs(response)
    assert len(response.raw_output_contents) == 0  # typed answers to typed requests
    assert list(outputs["probability"].shape) == [3, 1]
    assert list(outputs["probability"].contents.fp32_contents) == [
        pytest.approx(p["probability"], rel=1e-6) for p in expected
    ]
    assert list(outputs["label"].contents.int64_contents) == [p["label"] for p in expected]


@pytest.mark.parametrize(("datatype", "shape"), [("UINT8", (3, 28, 28)), ("FP32", (3, 784))])
def test_grpc_mnist_raw_matches_predict_pixels(triton_client, http, datatype, shape):
    pixels = _digits(3).reshape(shape)
    result = triton_client.infer("mnist", [_input("pixels", pixels, datatype)])
    expected = http.post("/predict/mnist/pixels", json={"instances": pixels.tolist()}).json()["predictions"]
    assert result.as_numpy("digit").tolist() == [p["digit"] for p in expected]
    assert result.as_numpy("probabilities").tolist() == [
        np.float32(p["probabilities"]).tolist() for p in expected
    ]


@pytest.mark.parametrize(("datatype", "field"), [("UINT8", "uint_contents"), ("FP32", "fp32_contents")])
def test_grpc_mnist_typed_contents_match_predict_pixels(stub, http, datatype, field):
    pixels = _digits(2)
    response = stub.ModelInfer(_typed_request("mnist", "pixels", datatype, pixels, field))
    expected = http.post("/predict/mnist/pixels", json={"instances": pixels.tolist()}).json()["predictions"]
    outputs = _outputs(response)
    assert list(outputs["digit"].contents.int64_contents) == [p["digit"] for p in expected]
    assert list(outputs["probabilities"].shape) == [2, 10]
    assert list(outputs["probabilities"].contents.fp32_contents) == [
        np.float32(p).item() for e in expected for p in e["probabilities"]
    ]


def test_grpc_infer_returns_only_requested_outputs(triton_client):
    result = triton_client.infer(
        "mnist", [_input("pixels", _digits(2), "UINT8")], outputs=[triton.InferRequestedOutput("digit")]
    )
    assert [o.name for o in result.get_response().outputs] == ["digit"]


def test_grpc_infer_pinned_version(triton_client):
    result = triton_client.infer("logistic", [_input("features", FEATURES, "FP32")], model_version="1")
    assert result.get_response().model_version == "1"


def test_grpc_infer_unknown_version_is_not_found(triton_client):
    with pytest.raises(InferenceServerException) as caught:
        triton_client.infer("logistic", [_input("features", FEATURES, "FP32")], model_version="9")
    assert caught.value.status() == "StatusCode.NOT_FOUND"
    assert "model 'logistic' has no version '9'" in caught.value.message()


def test_grpc_infer_unknown_model_is_not_found(triton_client):
    with pytest.raises(InferenceServerException) as caught:
        triton_client.infer("nope", [_input("pixels", _digits(1), "UINT8")])
    assert caught.value.status() == "StatusCode.NOT_FOUND"
    assert caught.value.message() == "unknown model 'nope'; available: logistic, mnist"


def test_grpc_wrong_datatype_is_invalid_argument(triton_client):
    with pytest.raises(InferenceServerException) as caught:
        triton_client.infer("logistic", [_input("features", FEATURES, "INT32")])
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert caught.value.message() == "input 'features': datatype INT32 is not accepted; use one of FP32, FP64"


def test_grpc_wrong_shape_is_invalid_argument(triton_client):
    with pytest.raises(InferenceServerException) as caught:
        triton_client.infer("mnist", [_input("pixels", np.zeros((2, 783)), "UINT8")])
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert caught.value.message() == "input 'pixels': shape [2, 783] is not [-1, 784] or [-1, 28, 28]"


def test_grpc_batch_over_the_limit_is_resource_exhausted(triton_client):
    with pytest.raises(InferenceServerException) as caught:
        triton_client.infer("mnist", [_input("pixels", np.zeros((65, 784)), "UINT8")])
    assert caught.value.status() == "StatusCode.RESOURCE_EXHAUSTED"
    assert caught.value.message() == "batch of 65 instances exceeds the limit of 64"


def test_grpc_message_over_the_size_limit_is_resource_exhausted(triton_client, grpc_server):
    pixels = np.zeros((64, 784))  # 64 x 784 FP64: 401 kB, over the server's 300 kB limit
    with pytest.raises(InferenceServerException) as caught:
        triton_client.infer("mnist", [_input("pixels", pixels, "FP64")])
    assert caught.value.status() == "StatusCode.RESOURCE_EXHAUSTED"
    assert f"vs. {grpc_server.settings.max_request_bytes})" in caught.value.message()


def test_grpc_typed_values_out_of_range_are_invalid_argument(stub):
    request = _typed_request("mnist", "pixels", "UINT8", np.full((1, 784), 256), "uint_contents")
    assert _error(stub.ModelInfer, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'pixels': UINT8 values must be integers in 0..255",
    )


def test_grpc_contents_in_the_wrong_field_are_invalid_argument(stub):
    request = _typed_request("mnist", "pixels", "UINT8", np.zeros((1, 784)), "fp32_contents")
    assert _error(stub.ModelInfer, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'pixels': UINT8 contents go in uint_contents, not fp32_contents",
    )


def test_grpc_raw_contents_count_must_match_inputs(stub):
    request = pb.ModelInferRequest(model_name="mnist", raw_input_contents=[bytes(784), bytes(784)])
    request.inputs.add(name="pixels", datatype="UINT8", shape=[1, 784])
    assert _error(stub.ModelInfer, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "raw_input_contents has 2 entries for 1 inputs; send one per input, in input order",
    )


def test_grpc_raw_bytes_not_matching_shape_are_invalid_argument(stub):
    request = pb.ModelInferRequest(model_name="mnist", raw_input_contents=[bytes(700)])
    request.inputs.add(name="pixels", datatype="UINT8", shape=[1, 784])
    assert _error(stub.ModelInfer, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'pixels': shape [1, 784] holds 784 values, data has 700",
    )


def test_grpc_negative_dimension_is_invalid_argument(stub):
    request = pb.ModelInferRequest(model_name="mnist", raw_input_contents=[bytes(784)])
    request.inputs.add(name="pixels", datatype="UINT8", shape=[-1, 784])
    assert _error(stub.ModelInfer, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'pixels': shape [-1, 784] has a negative dimension",
    )


def test_grpc_request_id_from_metadata_comes_back_in_the_trailer(stub):
    _, call = stub.ServerLive.with_call(pb.ServerLiveRequest(), metadata=[("x-request-id", "trace-42")])
    assert ("x-request-id", "trace-42") in call.trailing_metadata()


def test_grpc_unserved_rpc_is_unimplemented(stub):
    code, details = _error(stub.ModelStatistics, pb.ModelStatisticsRequest(name="mnist"))
    assert (code, details) == (
        grpc.StatusCode.UNIMPLEMENTED,
        "/inference.GRPCInferenceService/ModelStatistics is not implemented",
    )


@pytest.mark.parametrize("service", ["", "inference.GRPCInferenceService"])
def test_grpc_health_service_is_serving(grpc_server, service):
    with grpc.insecure_channel(grpc_server.grpc_address) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_grpc_calls_are_counted_in_metrics(stub, http):
    stub.ServerReady(pb.ServerReadyRequest())
    metrics = http.get("/metrics").text
    assert (
        'grpc_server_handled_total{grpc_code="OK",grpc_method="ServerReady",'
        'grpc_service="inference.GRPCInferenceService"}' in metrics
    )


@pytest.fixture(scope="module")
def missing_mnist_stub(tmp_path_factory) -> Iterator[service_pb2_grpc.GRPCInferenceServiceStub]:
    settings = grpc_settings(served_settings(tmp_path_factory.mktemp("repository")))
    (settings.model_repository / "mnist" / "1.pt").write_bytes(b"not a checkpoint")
    with (
        serve(create_app(settings, grpc=True)),
        grpc.insecure_channel(f"127.0.0.1:{settings.grpc_port}") as channel,
    ):
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def test_grpc_infer_on_a_model_not_loaded_is_unavailable(missing_mnist_stub):
    request = pb.ModelInferRequest(model_name="mnist", raw_input_contents=[bytes(784)])
    request.inputs.add(name="pixels", datatype="UINT8", shape=[1, 784])
    code, details = _error(missing_mnist_stub.ModelInfer, request)
    assert code == grpc.StatusCode.UNAVAILABLE
    assert details.startswith("model 'mnist' failed to load: ")


def test_grpc_server_not_ready_while_a_model_is_not_loaded(missing_mnist_stub):
    assert not missing_mnist_stub.ServerReady(pb.ServerReadyRequest()).ready
    assert not missing_mnist_stub.ModelReady(pb.ModelReadyRequest(name="mnist")).ready


def test_grpc_calls_beyond_the_concurrency_limit_are_resource_exhausted(tmp_path):
    # A lone prediction waits half a second for company, so three calls are in flight at once.
    overrides = {"limit_concurrency": 2, "batching": True, "batch_max_wait_ms": 500}
    settings = grpc_settings(served_settings(tmp_path), **overrides)
    request = pb.ModelInferRequest(model_name="mnist", raw_input_contents=[bytes(784)])
    request.inputs.add(name="pixels", datatype="UINT8", shape=[1, 784])
    with (
        serve(create_app(settings, grpc=True)),
        grpc.insecure_channel(f"127.0.0.1:{settings.grpc_port}") as channel,
    ):
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        calls = [stub.ModelInfer.future(request, timeout=10) for _ in range(3)]
        codes = sorted(call.code().name for call in calls)
    assert codes == ["OK", "OK", "RESOURCE_EXHAUSTED"]


def test_grpc_call_is_logged_with_the_request_id_from_metadata(stub, caplog):
    with caplog.at_level(logging.INFO, logger="app.access"):
        request = pb.ModelMetadataRequest(name="nope")
        _error(stub.ModelMetadata, request, metadata=[("x-request-id", "trace-7")])
    [record] = [r for r in caplog.records if getattr(r, "request_id", None) == "trace-7"]
    assert (record.route, record.status) == ("/inference.GRPCInferenceService/ModelMetadata", "NOT_FOUND")
    assert record.error == "unknown model 'nope'; available: logistic, mnist"


def test_grpc_output_requested_twice_is_invalid_argument(stub):
    request = pb.ModelInferRequest(model_name="mnist", raw_input_contents=[bytes(784)])
    request.inputs.add(name="pixels", datatype="UINT8", shape=[1, 784])
    request.outputs.add(name="digit")
    request.outputs.add(name="digit")
    assert _error(stub.ModelInfer, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "output 'digit' is requested twice",
    )
