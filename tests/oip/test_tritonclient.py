"""tritonclient, a real Open Inference Protocol client, against a live server; results match /predict/*."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from conftest import digit_pixels
from tritonclient.utils import InferenceServerException


@pytest.fixture(scope="module")
def triton_client(live_server) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(live_server.address)
    yield client
    client.close()


@pytest.fixture(scope="module")
def http(live_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url) as client:
        yield client


def _input(name: str, array: np.ndarray, datatype: str, binary: bool = True) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def _digits(count: int) -> np.ndarray:
    return np.stack([digit_pixels(seed).numpy() for seed in range(count)])


def test_tritonclient_server_is_live_and_ready(triton_client):
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()


def test_tritonclient_model_is_ready(triton_client):
    assert triton_client.is_model_ready("mnist")
    assert triton_client.is_model_ready("mnist", model_version="1")
    assert not triton_client.is_model_ready("mnist", model_version="9")


def test_tritonclient_model_metadata(triton_client):
    metadata = triton_client.get_model_metadata("logistic")
    assert metadata["inputs"] == [
        {"name": "features", "datatype": "FP32", "shape": [-1, 2], "parameters": {"feature_names": "x1,x2"}}
    ]
    assert metadata["outputs"] == [
        {"name": "probability", "datatype": "FP32", "shape": [-1, 1]},
        {"name": "label", "datatype": "INT64", "shape": [-1, 1]},
    ]
    assert metadata["versions"] == ["1"]


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_logistic_matches_predict(triton_client, http, binary):
    features = np.array([[1.0, 2.0], [5.0, 3.0], [4.0, 3.0]], dtype=np.float32)
    outputs = [triton.InferRequestedOutput(name, binary_data=binary) for name in ("probability", "label")]
    result = triton_client.infer(
        "logistic", [_input("features", features, "FP32", binary)], outputs=outputs, request_id="r1"
    )
    expected = http.post("/predict/logistic", json={"instances": features.tolist()}).json()["predictions"]
    assert result.get_response()["id"] == "r1"
    assert result.as_numpy("probability").tolist() == [[np.float32(p["probability"])] for p in expected]
    assert result.as_numpy("label").tolist() == [[p["label"]] for p in expected]


@pytest.mark.parametrize(("datatype", "shape"), [("UINT8", (3, 28, 28)), ("FP32", (3, 784))])
def test_tritonclient_mnist_matches_predict_pixels(triton_client, http, datatype, shape):
    pixels = _digits(3).reshape(shape).astype(triton.triton_to_np_dtype(datatype))
    result = triton_client.infer("mnist", [_input("pixels", pixels, datatype)])
    expected = http.post("/predict/mnist/pixels", json={"instances": pixels.tolist()}).json()["predictions"]
    assert result.as_numpy("digit").tolist() == [p["digit"] for p in expected]
    assert result.as_numpy("probabilities").tolist() == [
        np.float32(p["probabilities"]).tolist() for p in expected
    ]


def test_tritonclient_returns_only_requested_outputs(triton_client):
    result = triton_client.infer(
        "mnist", [_input("pixels", _digits(2), "UINT8")], outputs=[triton.InferRequestedOutput("digit")]
    )
    assert [o["name"] for o in result.get_response()["outputs"]] == ["digit"]
    assert result.as_numpy("probabilities") is None


def test_tritonclient_error_carries_the_server_message(triton_client):
    with pytest.raises(InferenceServerException, match="unknown model 'nope'; available: logistic, mnist"):
        triton_client.infer("nope", [_input("pixels", _digits(1), "UINT8")])
