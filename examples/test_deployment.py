"""A deployment of the digit & logistic service answers as it should: copy this folder and point it at yours.

    pip install pytest httpx
    pytest examples/ --base-url http://localhost:8000

It needs nothing else: the digit image is drawn here. The answers it expects are the committed models'
(a "1" is read as 1; the logistic model says 1 for (4, 3) and 0 for (1, 1)); change them for your own.
"""

from __future__ import annotations

import struct
import zlib

import httpx
import pytest


def png(pixels: list[list[int]]) -> bytes:
    """An 8-bit greyscale PNG of ``pixels`` (rows of 0..255), written with the standard library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", len(pixels[0]), len(pixels), 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes(row) for row in pixels)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def a_one() -> bytes:
    """A 28x28 "1" as MNIST draws digits: a white upright stroke on black."""
    return png([[255 if 4 <= y < 24 and 13 <= x < 16 else 0 for x in range(28)] for y in range(28)])


def test_service_is_ready(client: httpx.Client):
    response = client.get("/health/ready")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


def test_logistic_prediction(client: httpx.Client):
    response = client.post("/predict/logistic", json={"instances": [[4.0, 3.0], [1.0, 1.0]]})

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model"]["name"] == "logistic"
    assert [p["label"] for p in answer["predictions"]] == [1, 0]
    assert all(0.0 <= p["probability"] <= 1.0 for p in answer["predictions"])


def test_digit_prediction_from_an_image(client: httpx.Client):
    response = client.post("/predict/mnist", files={"file": ("one.png", a_one(), "image/png")})

    assert response.status_code == 200, response.text
    [prediction] = response.json()["predictions"]
    assert prediction["digit"] == 1
    assert sum(prediction["probabilities"]) == pytest.approx(1.0, abs=1e-4)


def test_open_inference_protocol(client: httpx.Client):
    body = {"inputs": [{"name": "features", "shape": [1, 2], "datatype": "FP32", "data": [4.0, 3.0]}]}

    response = client.post("/v2/models/logistic/infer", json=body)

    assert response.status_code == 200, response.text
    outputs = {output["name"]: output["data"] for output in response.json()["outputs"]}
    assert outputs["label"] == [1]


def test_bad_input_is_refused_with_a_reason(client: httpx.Client):
    response = client.post("/predict/logistic", json={"features": [1.0, 2.0, 3.0]})

    assert response.status_code == 422
    assert "features" in response.json()["detail"]


def test_api_key_is_required_when_set(client: httpx.Client, api_key: str | None):
    if api_key is None:
        pytest.skip("no API key given: the service is taken to be open")

    response = httpx.post(f"{client.base_url}/predict/logistic", json={"features": [4.0, 3.0]})

    assert response.status_code == 401
