import json

import pytest
import torch
from conftest import make_logistic

import models
from app.schemas.predict import LogisticRequest


def _probability(features: list[float]) -> float:
    with torch.inference_mode():
        return make_logistic().predict_proba(torch.tensor([features])).item()


def test_predict_logistic_single_instance(client):
    response = client.post("/predict/logistic", json={"features": [4.0, 3.0]})
    assert response.status_code == 200
    assert response.json() == {
        "model": {"name": "logistic", "version": "1", "architecture": "logistic_regression"},
        "predictions": [{"label": 1, "probability": _probability([4.0, 3.0])}],
    }


def test_predict_logistic_batch_keeps_order(client):
    response = client.post("/predict/logistic", json={"instances": [[1.0, 2.0], [5.0, 3.0], [0.5, 0.5]]})
    assert response.status_code == 200
    assert response.json()["predictions"] == [
        {"label": 0, "probability": _probability([1.0, 2.0])},
        {"label": 1, "probability": _probability([5.0, 3.0])},
        {"label": 0, "probability": _probability([0.5, 0.5])},
    ]


def test_predict_logistic_applies_checkpoint_threshold(tmp_path, client_with, logistic_checkpoint):
    model = make_logistic()
    strict = models.LogisticRegression(models.LogisticConfig(threshold=0.999))
    strict.load_state_dict(model.state_dict())
    path = models.save(strict, tmp_path / "strict.pt", version="strict")
    probability = _probability([4.0, 3.0])
    assert 0.5 < probability < 0.999

    logistic_checkpoint.write_bytes(path.read_bytes())
    response = client_with().post("/predict/logistic", json={"features": [4.0, 3.0]})

    assert response.status_code == 200
    assert response.json()["predictions"] == [{"label": 0, "probability": probability}]


def test_predict_logistic_wrong_feature_count(client):
    response = client.post("/predict/logistic", json={"features": [1.0, 2.0, 3.0]})
    assert response.status_code == 422
    assert response.json() == {"detail": "instance 0 has 3 features; expected 2 (x1, x2)"}


def test_predict_logistic_ragged_batch_names_the_instance(client):
    response = client.post("/predict/logistic", json={"instances": [[1.0, 2.0], [1.0]]})
    assert response.status_code == 422
    assert response.json() == {"detail": "instance 1 has 1 features; expected 2 (x1, x2)"}


@pytest.mark.parametrize("value", ["a", "1", True, False, None, [1.0]])
def test_predict_logistic_non_number_value_is_refused_strictly(client, value):
    response = client.post("/predict/logistic", json={"features": [value, 2.0]})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["body", "features", "list", 0],
                "msg": "Input should be a valid number",
                "type": "float_type",
            }
        ]
    }


def test_predict_logistic_integers_are_numbers(client):
    response = client.post("/predict/logistic", json={"instances": [[4, 3]]})
    assert response.status_code == 200
    assert response.json()["predictions"] == [{"label": 1, "probability": _probability([4.0, 3.0])}]


@pytest.mark.parametrize(
    ("features", "probability"),
    [([1e300, -1e300], 1.0), ([-1e300, 1e300], 0.0), ([3e38, -3e38], 1.0), ([1e308, 1.7e308], 1.0)],
)
def test_predict_logistic_huge_finite_features_give_a_probability(client, features, probability):
    response = client.post("/predict/logistic", json={"features": features})
    assert response.status_code == 200
    assert response.json()["predictions"] == [{"label": int(probability), "probability": probability}]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_predict_logistic_non_finite_value(client, literal):
    body = b'{"features": [' + literal + b", 1]}"
    response = client.post("/predict/logistic", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json() == {"detail": "features must be finite numbers (no NaN or infinity)"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instances": []}, "Value error, 'instances' is empty; send at least one instance"),
        (
            {"features": [1.0, 2.0], "instances": [[1.0, 2.0]]},
            "Value error, send exactly one of 'features' (one input) or 'instances' (a batch)",
        ),
        ({}, "Value error, send exactly one of 'features' (one input) or 'instances' (a batch)"),
    ],
    ids=["empty batch", "both", "neither"],
)
def test_predict_logistic_needs_exactly_one_non_empty_input(client, body, message):
    response = client.post("/predict/logistic", json=body)
    assert response.status_code == 422
    assert response.json() == {"detail": [{"loc": ["body"], "msg": message, "type": "value_error"}]}


def test_predict_logistic_unknown_field(client):
    response = client.post("/predict/logistic", json={"features": [1.0, 2.0], "x": 1})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"loc": ["body", "x"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}]
    }


def test_predict_logistic_batch_over_limit(client_with):
    response = client_with(max_batch_size=2).post("/predict/logistic", json={"instances": [[1.0, 2.0]] * 3})
    assert response.status_code == 413
    assert response.json() == {"detail": "batch of at least 3 instances exceeds the limit of 2"}


def test_predict_logistic_body_not_json(client):
    response = client.post(
        "/predict/logistic", content=b'{"features": [1,', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "request body is not valid JSON: EOF while parsing a value at line 1 column 16"
    }


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/problem+json"]
)
def test_predict_logistic_json_media_type_variants_accepted(client, content_type):
    response = client.post(
        "/predict/logistic", content=b'{"features": [1, 2]}', headers={"content-type": content_type}
    )
    assert response.status_code == 200


def test_predict_logistic_json_without_content_type(client):
    response = client.post("/predict/logistic", content=b'{"features": [1, 2]}')
    assert response.status_code == 415
    assert response.json() == {"detail": "expected a JSON body with content type application/json, got none"}


def test_predict_logistic_json_sent_as_text(client):
    response = client.post(
        "/predict/logistic", content=b'{"features": [1, 2]}', headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json() == {
        "detail": "expected a JSON body with content type application/json, got text/plain"
    }


def test_predict_logistic_empty_body(client):
    response = client.post("/predict/logistic", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"detail": "request body is empty; send a JSON object"}


def test_predict_logistic_body_not_an_object(client):
    response = client.post("/predict/logistic", json=[1.0, 2.0])
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["body"],
                "msg": "Input should be an object",
                "type": "model_type",
            }
        ]
    }


def test_predict_logistic_model_failed_to_load(logistic_checkpoint, client_with):
    logistic_checkpoint.unlink()
    logistic_checkpoint.mkdir()
    client = client_with()
    response = client.post("/predict/logistic", json={"features": [1.0, 2.0]})
    assert response.status_code == 503
    assert response.json() == {
        "detail": f"model 'logistic' failed to load: checkpoint {logistic_checkpoint}: "
        "is a directory, not a checkpoint file"
    }


def test_predict_logistic_oversized_batch_is_refused_before_it_is_parsed(client, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("parsed")

    monkeypatch.setattr(LogisticRequest, "model_validate_json", never)
    body = json.dumps({"instances": [[1, 2]] * 100_000}).encode()
    response = client.post("/predict/logistic", content=body, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()) == (
        413,
        {"detail": "batch of at least 100000 instances exceeds the limit of 64"},
    )
