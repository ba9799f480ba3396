"""The binary tensor data extension: tensor bytes after a JSON header of Inference-Header-Content-Length."""

from __future__ import annotations

import json
import struct

from conftest import digit_pixels

HEADER = "Inference-Header-Content-Length"


def _post(client, model: str, header: dict, binary: bytes = b""):
    encoded = json.dumps(header).encode()
    return client.post(
        f"/v2/models/{model}/infer",
        content=encoded + binary,
        headers={HEADER: str(len(encoded)), "content-type": "application/octet-stream"},
    )


def _split(response) -> tuple[dict, bytes]:
    length = int(response.headers[HEADER])
    return json.loads(response.content[:length]), response.content[length:]


def _pixels_input(size: int, datatype: str = "UINT8") -> dict:
    return {
        "name": "pixels",
        "shape": [1, 784],
        "datatype": datatype,
        "parameters": {"binary_data_size": size},
    }


def test_binary_input_and_outputs_match_json(client):
    pixels = digit_pixels().flatten().tolist()
    header = {
        "inputs": [_pixels_input(784)],
        "outputs": [{"name": "digit", "parameters": {"binary_data": True}}, {"name": "probabilities"}],
    }
    response = _post(client, "mnist", header, bytes(pixels))
    expected = client.post("/predict/mnist/pixels", json={"pixels": pixels}).json()["predictions"][0]
    body, binary = _split(response)
    assert response.status_code == 200
    assert body["outputs"][0] == {
        "name": "digit",
        "shape": [1],
        "datatype": "INT64",
        "parameters": {"binary_data_size": 8},
    }
    assert struct.unpack("<q", binary) == (expected["digit"],)
    assert body["outputs"][1]["data"] == expected["probabilities"]


def test_binary_data_output_parameter_makes_every_output_binary(client):
    header = {"parameters": {"binary_data_output": True}, "inputs": [_pixels_input(784 * 4, "FP32")]}
    response = _post(client, "mnist", header, struct.pack("<784f", *[0.0] * 784))
    body, binary = _split(response)
    sizes = [o["parameters"]["binary_data_size"] for o in body["outputs"]]
    assert response.status_code == 200
    assert (sizes, len(binary)) == ([40, 8], 48)
    assert abs(sum(struct.unpack("<10f", binary[:40])) - 1.0) < 1e-5


def test_json_response_has_no_header_length(client):
    response = _post(client, "mnist", {"inputs": [_pixels_input(784)]}, bytes(784))
    assert response.status_code == 200
    assert HEADER not in response.headers


def test_binary_size_mismatch_is_400(client):
    response = _post(client, "mnist", {"inputs": [_pixels_input(784)]}, bytes(783))
    assert response.status_code == 400
    assert response.json() == {
        "error": "input 'pixels': binary_data_size 784 must be the 783 bytes after the JSON header, "
        "with no data"
    }


def test_binary_bytes_not_matching_shape_is_400(client):
    response = _post(client, "mnist", {"inputs": [_pixels_input(6, "FP32")]}, bytes(6))
    assert response.status_code == 400
    assert response.json() == {"error": "input 'pixels': 6 bytes is not a whole number of FP32 values"}


def test_header_length_beyond_the_body_is_400(client):
    response = client.post("/v2/models/mnist/infer", content=b"{}", headers={HEADER: "3"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "Inference-Header-Content-Length must be a byte count within the body's 2 bytes, got '3'"
    }


def test_header_length_not_a_number_is_400(client):
    response = client.post("/v2/models/mnist/infer", content=b"{}", headers={HEADER: "-1"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "Inference-Header-Content-Length must be a byte count within the body's 2 bytes, got '-1'"
    }
