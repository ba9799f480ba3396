"""/admin: load, unload, reload and pin change the repository on disk and this worker at once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_logistic
from fastapi.testclient import TestClient
from pydantic import SecretStr

import models
from app.main import create_app
from app.settings import Settings

KEY = "admin-key-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
FEATURES = {"features": [4.0, 3.0]}


@pytest.fixture
def admin(settings: Settings, model_repository: Path) -> Iterator[TestClient]:
    models.save(make_logistic(), model_repository / "logistic" / "2.pt", version="2.0.0")
    (model_repository / "logistic" / "config.json").write_text('{"version_policy": {"all": {}}}')
    with TestClient(create_app(settings.model_copy(update={"api_key": SecretStr(KEY)}))) as client:
        yield client


def default_version(client: TestClient) -> str | None:
    return client.get("/models/logistic", headers=AUTH).json()["version"]


def config(repository: Path) -> dict:
    return json.loads((repository / "logistic" / "config.json").read_text())


def test_pin_serves_that_version_by_default_and_writes_the_config(admin, model_repository):
    response = admin.put("/admin/models/logistic/default", json={"version": 1}, headers=AUTH)
    assert response.status_code == 200
    assert (response.json()["version"], response.json()["pinned_version"]) == ("1", "1")
    assert admin.post("/predict/logistic", json=FEATURES, headers=AUTH).json()["model"]["version"] == "1"
    assert config(model_repository) == {"version_policy": {"all": {}}, "default_version": 1}


def test_unpin_goes_back_to_the_latest(admin, model_repository):
    admin.put("/admin/models/logistic/default", json={"version": 1}, headers=AUTH)
    response = admin.put("/admin/models/logistic/default", json={"version": None}, headers=AUTH)
    assert (response.status_code, response.json()["version"]) == (200, "2")
    assert config(model_repository) == {"version_policy": {"all": {}}}


def test_pin_unknown_version_is_404(admin):
    response = admin.put("/admin/models/logistic/default", json={"version": 7}, headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {"detail": "model 'logistic' has no version '7' serving; serving: 1, 2"}


def test_pin_version_that_cannot_load_is_409_and_changes_nothing(admin, model_repository):
    (model_repository / "logistic" / "3.pt").write_bytes(b"garbage")
    response = admin.put("/admin/models/logistic/default", json={"version": 3}, headers=AUTH)
    assert response.status_code == 409
    assert response.json()["detail"].startswith("model 'logistic' version 3 cannot serve: checkpoint ")
    assert default_version(admin) == "2"
    assert "default_version" not in config(model_repository)


def test_unload_stops_serving_and_load_serves_again(admin, model_repository):
    response = admin.post("/admin/models/logistic/unload", headers=AUTH)
    assert (response.status_code, response.json()["state"]) == (200, "unloaded")
    refused = admin.post("/predict/logistic", json=FEATURES, headers=AUTH)
    assert (refused.status_code, refused.json()) == (503, {"detail": "model 'logistic' is unloaded"})
    assert config(model_repository)["unloaded"] is True
    assert admin.get("/health/ready").status_code == 200  # unloaded on purpose: not a failure
    response = admin.post("/admin/models/logistic/load", headers=AUTH)
    assert (response.status_code, response.json()["state"], response.json()["version"]) == (200, "ready", "2")
    assert "unloaded" not in config(model_repository)


def test_reload_reads_a_file_replaced_in_place(admin, model_repository, tmp_path):
    before = admin.get("/models/logistic", headers=AUTH).json()["checkpoint"]["sha256"]
    replacement = models.save(make_logistic(seed=1), tmp_path / "new.pt", version="2.1.0")
    (model_repository / "logistic" / "2.pt").write_bytes(replacement.read_bytes())
    response = admin.post("/admin/models/logistic/reload", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["checkpoint"]["sha256"] != before
    assert response.json()["versions"][-1]["checkpoint_version"] == "2.1.0"


def test_admin_unknown_model_is_404(admin):
    response = admin.post("/admin/models/nope/unload", headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown model 'nope'; available: logistic, mnist"}


def test_admin_without_key_is_401(admin):
    response = admin.post("/admin/models/logistic/unload")
    assert response.status_code == 401


def test_admin_without_configured_key_is_off(client):
    response = client.post("/admin/models/logistic/unload")
    assert response.status_code == 403
    assert response.json() == {"detail": "admin endpoints are disabled: set SERVE_API_KEY to enable them"}


def test_pin_with_bad_body_is_422(admin):
    response = admin.put("/admin/models/logistic/default", json={"version": 0}, headers=AUTH)
    assert response.status_code == 422
