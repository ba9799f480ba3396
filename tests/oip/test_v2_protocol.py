"""The Open Inference Protocol over JSON: metadata, health, inference and the {"error": ...} body."""

from __future__ import annotations

import pytest
from conftest import digit_pixels
from fastapi.testclient import TestClient

FEATURES = [[1.0, 2.0], [5.0, 3.0]]


def _tensor(name: str, shape: list[int], datatype: str, data: list) -> dict:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def _infer(client: TestClient, model: str, *inputs: dict, **extra) -> tuple[int, dict]:
    response = client.post(f"/v2/models/{model}/infer", json={"inputs": list(inputs), **extra})
    return response.status_code, response.json()


def _outputs(body: dict) -> dict[str, dict]:
    return {output["name"]: output for output in body["outputs"]}


def _digit_rows(count: int) -> list[list[int]]:
    return [digit_pixels(seed).flatten().tolist() for seed in range(count)]


@pytest.fixture
def missing_mnist_client(client_with, mnist_checkpoint) -> TestClient:
    mnist_checkpoint.unlink()
    return client_with()


def test_server_metadata_lists_the_binary_extension(client):
    response = client.get("/v2")
    assert response.status_code == 200
    assert response.json() == {
        "name": "digit-logistic-serving",
        "version": "0.1.0",
        "extensions": ["binary_tensor_data", "model_repository"],
    }


def test_server_live(client):
    response = client.get("/v2/health/live")
    assert (response.status_code, response.json()) == (200, {"live": True})


def test_server_ready_when_every_model_loaded(client):
    response = client.get("/v2/health/ready")
    assert (response.status_code, response.json()) == (200, {"ready": True})


def test_server_ready_is_503_while_a_model_is_missing(missing_mnist_client):
    response = missing_mnist_client.get("/v2/health/ready")
    assert (response.status_code, response.json()) == (503, {"ready": False})


def test_model_ready_is_503_when_its_checkpoint_is_missing(missing_mnist_client):
    response = missing_mnist_client.get("/v2/models/mnist/ready")
    assert (response.status_code, response.json()) == (503, {"name": "mnist", "ready": False})


def test_model_ready_of_the_served_version(client):
    response = client.get("/v2/models/logistic/versions/1/ready")
    assert (response.status_code, response.json()) == (200, {"name": "logistic", "ready": True})


def test_model_metadata_mnist_tensors(client):
    response = client.get("/v2/models/mnist")
    assert response.status_code == 200
    assert response.json() == {
        "name": "mnist",
        "versions": ["1"],
        "platform": "pytorch",
        "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, 784]}],
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
            {"name": "digit", "datatype": "INT64", "shape": [-1]},
        ],
    }


def test_model_metadata_unknown_model_is_404(client):
    response = client.get("/v2/models/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "unknown model 'nope'; available: logistic, mnist"}


def test_model_metadata_unknown_version_is_404(client):
    response = client.get("/v2/models/mnist/versions/2")
    assert response.status_code == 404
    assert response.json() == {"error": "model 'mnist' has no version '2' serving; serving: 1"}


def test_infer_logistic_matches_predict(client):
    status, body = _infer(client, "logistic", _tensor("features", [2, 2], "FP32", FEATURES), id="req-1")
    expected = client.post("/predict/logistic", json={"instances": FEATURES}).json()["predictions"]
    assert status == 200
    assert (body["model_name"], body["model_version"], body["id"]) == ("logistic", "1", "req-1")
    assert _outputs(body) == {
        "probability": {
            "name": "probability",
            "shape": [2, 1],
            "datatype": "FP32",
            "data": [p["probability"] for p in expected],
        },
        "label": {
            "name": "label",
            "shape": [2, 1],
            "datatype": "INT64",
            "data": [p["label"] for p in expected],
        },
    }


def test_infer_logistic_flat_data_equals_nested(client):
    flat = _infer(client, "logistic", _tensor("features", [2, 2], "FP32", [1.0, 2.0, 5.0, 3.0]))
    nested = _infer(client, "logistic", _tensor("features", [2, 2], "FP32", FEATURES))
    assert flat[0] == 200
    assert flat == nested


def test_infer_without_id_leaves_it_out(client):
    status, body = _infer(client, "logistic", _tensor("features", [1, 2], "FP32", [1.0, 2.0]))
    assert status == 200
    assert set(body) == {"model_name", "model_version", "outputs"}


def test_infer_runs_through_the_models_runner(client, monkeypatch):
    # The runner is where SERVE_BATCHING gathers predictions: /v2 must not go around it.
    runners = client.app.state.dataplane._runners
    runner, calls = runners["logistic"], []

    async def counting_runner(servable, inputs):
        calls.append([row.tolist() for row in inputs])
        return await runner(servable, inputs)

    monkeypatch.setitem(runners, "logistic", counting_runner)
    status, _ = _infer(client, "logistic", _tensor("features", [2, 2], "FP32", FEATURES))
    assert status == 200
    assert calls == [FEATURES]


@pytest.mark.parametrize("datatype", ["UINT8", "FP32", "FP64"])
@pytest.mark.parametrize("shape", [[2, 784], [2, 28, 28]])
def test_infer_mnist_matches_predict_pixels(client, datatype, shape):
    rows = _digit_rows(2)
    data = rows if len(shape) == 2 else [[row[r * 28 : (r + 1) * 28] for r in range(28)] for row in rows]
    status, body = _infer(client, "mnist", _tensor("pixels", shape, datatype, data))
    expected = client.post("/predict/mnist/pixels", json={"instances": rows}).json()["predictions"]
    outputs = _outputs(body)
    assert status == 200
    assert outputs["digit"] == {
        "name": "digit",
        "shape": [2],
        "datatype": "INT64",
        "data": [p["digit"] for p in expected],
    }
    assert outputs["probabilities"]["shape"] == [2, 10]
    assert outputs["probabilities"]["data"] == [p for e in expected for p in e["probabilities"]]


def test_infer_returns_only_requested_outputs_in_their_order(client):
    tensor = _tensor("features", [1, 2], "FP32", [5.0, 3.0])
    _, body = _infer(client, "logistic", tensor, outputs=[{"name": "label"}])
    assert body["outputs"] == [{"name": "label", "shape": [1, 1], "datatype": "INT64", "data": [1]}]


def test_infer_versioned_path_serves_that_version(client):
    tensor = _tensor("features", [1, 2], "FP32", [5.0, 3.0])
    versioned = client.post("/v2/models/logistic/versions/1/infer", json={"inputs": [tensor]})
    assert (versioned.status_code, versioned.json()) == (200, _infer(client, "logistic", tensor)[1])


@pytest.mark.parametrize(
    ("model", "payload", "status", "error"),
    [
        ("logistic", {"inputs": []}, 400, "inputs: List should have at least 1 item after validation, not 0"),
        (
            "nope",
            {"inputs": [_tensor("pixels", [1], "FP32", [0])]},
            404,
            "unknown model 'nope'; available: logistic, mnist",
        ),
        (
            "logistic",
            {"inputs": [_tensor("features", [1, 2], "INT32", [1, 2])]},
            400,
            "input 'features': datatype INT32 is not accepted; use one of FP32, FP64",
        ),
        (
            "logistic",
            {"inputs": [_tensor("x", [1, 2], "FP32", [1, 2])]},
            400,
            "model 'logistic' takes one input, 'features'; got 'x'",
        ),
        (
            "logistic",
            {"inputs": [_tensor("features", [1, 3], "FP32", [1, 2, 3])]},
            400,
            "input 'features': shape [1, 3] is not [-1, 2]",
        ),
        (
            "logistic",
            {"inputs": [_tensor("features", [2, 2], "FP32", [1, 2, 3])]},
            400,
            "input 'features': shape [2, 2] holds 4 values, data has 3",
        ),
        (
            "logistic",
            {"inputs": [_tensor("features", [2, 2], "FP32", [[1, 2, 3, 4]])]},
            400,
            "input 'features': data nested as [1, 4], shape is [2, 2]",
        ),
        (
            "logistic",
            {"inputs": [_tensor("features", [2, 2], "FP32", [[1, 2], [3]])]},
            400,
            "input 'features': data must be numbers, flat or nested in equal rows",
        ),
        (
            "logistic",
            {"inputs": [{"name": "features", "shape": [1, 2], "datatype": "FP32"}]},
            400,
            "input 'features' has neither data nor binary_data_size",
        ),
        (
            "logistic",
            {"inputs": [_tensor("features", [1, 2], "FP32", [1, 2])], "outputs": [{"name": "logit"}]},
            400,
            "model 'logistic' has no output 'logit'; outputs: probability, label",
        ),
        (
            "logistic",
            {"inputs": [_tensor("features", [65, 2], "FP32", [1] * 130)]},
            413,
            "batch of 65 instances exceeds the limit of 64",
        ),
        (
            "mnist",
            {"inputs": [_tensor("pixels", [1, 784], "FP32", [256] * 784)]},
            400,
            "pixel values must lie in 0..255",
        ),
        (
            "mnist",
            {"inputs": [_tensor("pixels", [1, 784], "UINT8", [256] * 784)]},
            400,
            "input 'pixels': UINT8 values must be integers in 0..255",
        ),
        (
            "mnist",
            {"inputs": [_tensor("pixels", [1, 784], "UINT8", [0.5] * 784)]},
            400,
            "input 'pixels': UINT8 values must be integers in 0..255",
        ),
        (
            "mnist",
            {"inputs": [_tensor("pixels", [1, 27, 29], "FP32", [0] * 783)]},
            400,
            "input 'pixels': shape [1, 27, 29] is not [-1, 784] or [-1, 28, 28]",
        ),
    ],
)
def test_infer_bad_request_gets_the_protocol_error(client, model, payload, status, error):
    response = client.post(f"/v2/models/{model}/infer", json=payload)
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_infer_malformed_json_is_400(client):
    response = client.post(
        "/v2/models/logistic/infer", content=b'{"inputs": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "malformed JSON: EOF while parsing a list at line 1 column 12"}


def test_infer_missing_shape_is_400(client):
    status, body = _infer(client, "logistic", {"name": "features", "datatype": "FP32", "data": [1, 2]})
    assert (status, body) == (400, {"error": "inputs.0.shape: Field required"})


def test_infer_model_not_ready_is_503(missing_mnist_client):
    status, body = _infer(missing_mnist_client, "mnist", _tensor("pixels", [1, 784], "UINT8", [0] * 784))
    assert status == 503
    assert body == {"error": "model 'mnist' failed to load: no version files (<version>.pt) in its folder"}


def test_errors_outside_v2_keep_the_detail_shape(client):
    response = client.get("/models/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown model 'nope'; available: logistic, mnist"}


@pytest.fixture
def keyed_client(client_with) -> TestClient:
    return client_with(api_key="s3cret")


def test_model_endpoints_want_the_api_key_when_one_is_set(keyed_client):
    response = keyed_client.get("/v2/models/mnist")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"error": "missing API key: send Authorization: Bearer <key> or X-API-Key"}


def test_server_probes_stay_open_when_a_key_is_set(keyed_client):
    response = keyed_client.get("/v2/health/ready")
    assert (response.status_code, response.json()) == (200, {"ready": True})
