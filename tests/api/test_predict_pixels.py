import json

import pytest
import torch
from conftest import digit_pixels

from api.helpers import model_probabilities, served_probabilities
from app.schemas.examples import SEVEN_PIXELS


def test_predict_pixels_nested_rows(client):
    response = client.post("/predict/mnist/pixels", json={"pixels": SEVEN_PIXELS})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == {"name": "mnist", "version": "1", "architecture": "softmax_regression"}
    assert served_probabilities(response) == model_probabilities(
        client, torch.tensor(SEVEN_PIXELS, dtype=torch.uint8)
    )


def test_predict_pixels_flat_equals_nested(client):
    flat = [v for row in SEVEN_PIXELS for v in row]
    nested = client.post("/predict/mnist/pixels", json={"pixels": SEVEN_PIXELS})
    response = client.post("/predict/mnist/pixels", json={"pixels": flat})
    assert response.status_code == 200
    assert response.json() == nested.json()


def test_predict_pixels_batch_keeps_order(client):
    images = torch.stack([digit_pixels(1), torch.tensor(SEVEN_PIXELS, dtype=torch.uint8), digit_pixels(2)])
    response = client.post("/predict/mnist/pixels", json={"instances": images.tolist()})
    assert response.status_code == 200
    assert served_probabilities(response) == model_probabilities(client, images)


def test_predict_pixels_fractional_values(client):
    pixels = torch.full((28, 28), 127.5)
    response = client.post("/predict/mnist/pixels", json={"pixels": pixels.tolist()})
    assert response.status_code == 200
    assert served_probabilities(response) == model_probabilities(client, pixels)


@pytest.mark.parametrize(
    ("pixels", "got"),
    [
        ([[0] * 28] * 27, "shape [27, 28]"),
        ([0] * 783, "shape [783]"),
        ([[0] * 28] * 27 + [[0] * 27], "a ragged array"),
        ([[0] * 28] * 27 + [0], "a ragged array"),
    ],
    ids=["27 rows", "783 values", "short row", "rows and values mixed"],
)
def test_predict_pixels_wrong_shape(client, pixels, got):
    response = client.post("/predict/mnist/pixels", json={"instances": [SEVEN_PIXELS, pixels]})
    assert response.status_code == 422
    assert response.json() == {"detail": f"image 1: expected 28 rows of 28 pixels or 784 values, got {got}"}


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (b"256", "pixel values must lie in 0..255"),
        (b"-1", "pixel values must lie in 0..255"),
        (b"NaN", "pixel values must be finite numbers (no NaN or infinity)"),
        (b"Infinity", "pixel values must be finite numbers (no NaN or infinity)"),
    ],
)
def test_predict_pixels_bad_value(client, value, detail):
    body = b'{"pixels": [' + b"0, " * 783 + value + b"]}"
    response = client.post(
        "/predict/mnist/pixels", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize("value", [b'"white"', b'"7"', b"true"])
def test_predict_pixels_not_a_number(client, value):
    body = b'{"pixels": [' + b"0, " * 783 + value + b"]}"
    response = client.post(
        "/predict/mnist/pixels", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0] == {
        "loc": ["body", "pixels", 783, "float"],
        "msg": "Input should be a valid number",
        "type": "float_type",
    }
    assert len(response.json()["detail"]) == 2  # the value, and the row it is not: never one per pixel


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instances": []}, "Value error, 'instances' is empty; send at least one instance"),
        (
            {"pixels": SEVEN_PIXELS, "instances": [SEVEN_PIXELS]},
            "Value error, send exactly one of 'pixels' (one input) or 'instances' (a batch)",
        ),
        ({}, "Value error, send exactly one of 'pixels' (one input) or 'instances' (a batch)"),
    ],
    ids=["empty batch", "both", "neither"],
)
def test_predict_pixels_needs_exactly_one_non_empty_input(client, body, message):
    response = client.post("/predict/mnist/pixels", json=body)
    assert response.status_code == 422
    assert response.json() == {"detail": [{"loc": ["body"], "msg": message, "type": "value_error"}]}


def test_predict_pixels_batch_over_limit(client_with):
    client = client_with(max_batch_size=2)
    response = client.post("/predict/mnist/pixels", json={"instances": [SEVEN_PIXELS] * 3})
    assert response.status_code == 413
    assert response.json() == {"detail": "batch of at least 3 instances exceeds the limit of 2"}


def test_predict_pixels_body_not_json(client):
    response = client.post(
        "/predict/mnist/pixels", content=b"pixels=1", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "request body is not valid JSON: expected value at line 1 column 1"}


def test_predict_pixels_json_sent_as_form(client):
    response = client.post("/predict/mnist/pixels", data={"pixels": "0"})
    assert response.status_code == 415
    assert response.json() == {
        "detail": "expected a JSON body with content type application/json, "
        "got application/x-www-form-urlencoded"
    }


def test_predict_pixels_oversized_flat_batch_is_refused_before_it_is_parsed(client):
    body = json.dumps({"instances": [[0] * 784] * 100}).encode()
    response = client.post(
        "/predict/mnist/pixels", content=body, headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()) == (
        413,
        {"detail": "batch of at least 99 instances exceeds the limit of 64"},
    )
