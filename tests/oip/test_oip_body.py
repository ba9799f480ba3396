"""Large inference bodies judged from their bytes, before they are parsed (app/api/oip_body.py)."""

import json
import random

import pytest

from app import binary_tensors
from app.api.oip_body import JUDGED_BODY_BYTES


@pytest.fixture
def unparsed(monkeypatch):
    """Fails the test if an inference body reaches the JSON parser."""

    def parse(data):
        raise AssertionError("the body was parsed")

    monkeypatch.setattr(binary_tensors, "from_json", parse)


def _body(shape: list[int], data: str, name: str = "features") -> bytes:
    tensor = {"name": name, "shape": shape, "datatype": "FP32", "data": "DATA"}
    return json.dumps({"inputs": [tensor]}).replace('"DATA"', data).encode()


def _post(client, body: bytes, model: str = "logistic"):
    return client.post(f"/v2/models/{model}/infer", content=body)


def test_oip_body_declaring_a_batch_over_the_limit_is_413_unparsed(client, unparsed):
    body = _body([20000, 2], json.dumps([[1, 2]] * 20000))
    assert len(body) > JUDGED_BODY_BYTES
    response = _post(client, body)
    assert (response.status_code, response.json()) == (
        413,
        {"error": "batch of 20000 instances exceeds the limit of 64"},
    )


def test_oip_body_denser_than_a_full_batch_is_413_unparsed(client, unparsed):
    body = _body([1, 2], json.dumps([[]] * 30000))
    response = _post(client, body)
    commas, containers = body.count(b","), body.count(b"[") + body.count(b"{")
    assert (response.status_code, response.json()) == (
        413,
        {
            "error": f"request body holds {commas} commas and {containers} arrays and objects; a full "
            "batch of 64 for model 'logistic' needs at most 192 and 128"
        },
    )


def test_oip_body_with_more_values_than_a_full_batch_is_413_unparsed(client, unparsed):
    body = _body([1, 2], json.dumps([1] * 40000))
    response = _post(client, body)
    assert response.status_code == 413
    assert response.json()["error"].startswith(f"request body holds {body.count(b',')} commas and 5 ")


def test_oip_body_large_for_an_unknown_model_is_404_unparsed(client, unparsed):
    response = _post(client, _body([20000, 2], json.dumps([[1, 2]] * 20000)), model="nope")
    assert response.status_code == 404


@pytest.mark.parametrize("nested", [True, False])
def test_oip_body_full_batch_of_images_with_long_numbers_is_answered(client, nested):
    rng = random.Random(0)
    images = [[round(rng.uniform(0, 255), 12) for _ in range(784)] for _ in range(64)]
    data = [[image[row * 28 : row * 28 + 28] for row in range(28)] for image in images] if nested else images
    shape = [64, 28, 28] if nested else [64, 784]
    response = _post(client, _body(shape, json.dumps(data), name="pixels"), model="mnist")
    assert response.status_code == 200
    assert response.json()["outputs"][1]["shape"] == [64]


def test_oip_body_small_is_not_judged(client):
    response = _post(client, _body([1, 2], json.dumps([[]] * 100)))
    assert response.status_code == 400
    assert response.json()["error"].startswith("input 'features': data nested as")
