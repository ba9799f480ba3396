"""Large or invalid JSON bodies read by app/api/json_body.py: refused unparsed, or with one error."""

import json

from app.schemas.predict import LogisticRequest


def _post(client, body: bytes, path: str = "/predict/logistic"):
    return client.post(path, content=body, headers={"content-type": "application/json"})


def test_json_body_with_more_values_than_a_full_batch_is_413_unparsed(client, monkeypatch):
    def parse(*args, **kwargs):
        raise AssertionError("the body was parsed")

    monkeypatch.setattr(LogisticRequest, "model_validate_json", parse)
    response = _post(client, json.dumps({"features": [1] * 70000}).encode())
    assert (response.status_code, response.json()) == (
        413,
        {
            "detail": "request body holds 69999 commas; a batch of 64 instances holds at most 65536 "
            "values (1024 each)"
        },
    )


def test_json_body_invalid_features_stop_at_the_first(client):
    response = _post(client, json.dumps({"features": ["a"] * 5000}).encode())
    assert (response.status_code, response.json()) == (
        422,
        {
            "detail": [
                {
                    "loc": ["body", "features", "list", 0],
                    "msg": "Input should be a valid number",
                    "type": "float_type",
                }
            ]
        },
    )


def test_json_body_invalid_named_features_stop_at_the_first(client):
    response = _post(client, json.dumps({"features": {f"x{i}": "a" for i in range(5000)}}).encode())
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "features", "object", "x0"],
            "msg": "Input should be a valid number",
            "type": "float_type",
        }
    ]


def test_json_body_invalid_instances_stop_at_the_first(client):
    response = _post(client, json.dumps({"instances": [["a", "b"]] * 60}).encode())
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "instances", 0, "list", 0]]


def test_json_body_invalid_pixels_stop_at_the_first_image(client):
    response = _post(client, json.dumps({"instances": [["a"] * 784] * 60}).encode(), "/predict/mnist/pixels")
    assert response.status_code == 422
    assert {tuple(error["loc"][:4]) for error in response.json()["detail"]} == {("body", "instances", 0, 0)}
