"""The optional API key: open without one, 401 with the exact detail otherwise, never logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from app.main import create_app
from app.settings import Settings

KEY = "s3cret-key-for-tests-0123456789"
FEATURES = {"features": [4.0, 3.0]}
MISSING = "missing API key: send Authorization: Bearer <key> or X-API-Key"


def keyed_client(settings: Settings, **update) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"api_key": SecretStr(KEY), **update}))) as client:
        yield client


@pytest.fixture
def secured(settings: Settings) -> Iterator[TestClient]:
    yield from keyed_client(settings)


def test_predict_without_configured_key_is_open(client):
    response = client.post("/predict/logistic", json=FEATURES)
    assert response.status_code == 200


def test_predict_without_key_is_401_with_challenge(secured):
    response = secured.post("/predict/logistic", json=FEATURES)
    assert response.status_code == 401
    assert response.json() == {"detail": MISSING}
    assert response.headers["www-authenticate"] == "Bearer"


def test_predict_with_wrong_bearer_key_is_401(secured):
    response = secured.post("/predict/logistic", json=FEATURES, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_predict_with_wrong_x_api_key_is_401(secured):
    response = secured.post("/predict/logistic", json=FEATURES, headers={"X-API-Key": "nope"})
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key"}


def test_predict_with_non_bearer_authorization_is_missing_key(secured):
    response = secured.post("/predict/logistic", json=FEATURES, headers={"Authorization": f"Basic {KEY}"})
    assert response.status_code == 401
    assert response.json() == {"detail": MISSING}


def test_predict_with_bearer_key_succeeds(secured):
    response = secured.post("/predict/logistic", json=FEATURES, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200


def test_predict_with_x_api_key_succeeds(secured):
    response = secured.post("/predict/logistic", json=FEATURES, headers={"X-API-Key": KEY})
    assert response.status_code == 200


def test_bearer_key_wins_over_x_api_key(secured):
    headers = {"Authorization": "Bearer nope", "X-API-Key": KEY}
    response = secured.post("/predict/logistic", json=FEATURES, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key"}


def test_models_without_key_is_401(secured):
    response = secured.get("/models")
    assert response.status_code == 401
    assert response.json() == {"detail": MISSING}


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/docs", "/redoc", "/openapi.json"])
def test_probes_and_docs_stay_open_with_key_set(secured, path):
    assert secured.get(path).status_code == 200


def test_openapi_offers_both_key_schemes(secured):
    schema = secured.get("/openapi.json").json()
    assert set(schema["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    assert schema["paths"]["/predict/logistic"]["post"]["security"] == [
        {"HTTPBearer": []},
        {"APIKeyHeader": []},
    ]
    assert "security" not in schema["paths"]["/health/live"]["get"]


def test_metrics_open_by_default_with_key_set(client_with):
    assert client_with(api_key=SecretStr(KEY)).get("/metrics").status_code == 200


def test_metrics_want_key_when_configured(client_with):
    client = client_with(api_key=SecretStr(KEY), metrics_require_key=True)
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.json() == {"detail": MISSING}
    assert client.get("/metrics", headers={"X-API-Key": KEY}).status_code == 200


def test_settings_repr_hides_key(settings):
    keyed = settings.model_copy(update={"api_key": SecretStr(KEY)})
    assert KEY not in repr(keyed)
    assert KEY not in str(keyed.model_dump())


def test_settings_refuse_blank_key(monkeypatch):
    monkeypatch.setenv("SERVE_API_KEY", "  ")
    with pytest.raises(ValidationError, match="SERVE_API_KEY is blank; unset it to run without a key"):
        Settings()


def test_key_never_reaches_logs(settings, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-key-that-must-not-be-logged"
    for client in keyed_client(settings):
        client.post("/predict/logistic", json=FEATURES, headers={"Authorization": f"Bearer {KEY}"})
        client.post("/predict/logistic", json=FEATURES, headers={"X-API-Key": wrong})
        client.post("/predict/logistic", json={"features": "bad"}, headers={"X-API-Key": KEY})
        client.post("/admin/models/logistic/reload", headers={"X-API-Key": KEY})
    assert "model logistic version 1 serves from" in caplog.text  # the reload logged at all
    assert KEY not in caplog.text
    assert wrong not in caplog.text
