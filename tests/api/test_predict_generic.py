"""POST /predict/{name} and /predict/{name}/pixels: any model in the repository, any version of it."""

from __future__ import annotations

import json

import pytest
from conftest import make_logistic, make_softmax

import models
from api.helpers import upload

FEATURES = {"features": [4.0, 3.0]}


@pytest.fixture
def repository_client(client_with, model_repository):
    """Beside the defaults: ``toy`` (logistic, versions 1 and 2, all served) and ``digits`` (softmax)."""
    for version in (1, 2):
        models.save(make_logistic(seed=version), model_repository / "toy" / f"{version}.pt")
    (model_repository / "toy" / "config.json").write_text(json.dumps({"version_policy": {"all": {}}}))
    models.save(make_softmax(seed=3), model_repository / "digits" / "1.pt")
    return client_with()


def test_generic_route_serves_a_logistic_model(repository_client):
    response = repository_client.post("/predict/toy", json=FEATURES)
    assert response.status_code == 200
    assert response.json()["model"] == {"name": "toy", "version": "2", "architecture": "logistic_regression"}


def test_generic_route_takes_a_version(repository_client):
    response = repository_client.post("/predict/toy?version=1", json=FEATURES)
    assert (response.status_code, response.json()["model"]["version"]) == (200, "1")


def test_generic_route_serves_a_digit_model_from_images(repository_client, png_digit):
    response = repository_client.post("/predict/digits", files=upload(("d.png", png_digit())))
    assert response.status_code == 200
    assert response.json()["model"] == {
        "name": "digits",
        "version": "1",
        "architecture": "softmax_regression",
    }


def test_generic_pixels_route_serves_a_digit_model(repository_client):
    response = repository_client.post("/predict/digits/pixels", json={"pixels": [0] * 784})
    assert (response.status_code, response.json()["model"]["name"]) == (200, "digits")


def test_generic_pixels_route_refuses_a_logistic_model(repository_client):
    response = repository_client.post("/predict/toy/pixels", json={"pixels": [0] * 784})
    assert response.status_code == 404
    assert response.json() == {
        "detail": "model 'toy' is a logistic_regression model: it takes no pixels; "
        "send its features to POST /predict/toy"
    }


def test_generic_route_unknown_model_is_404(repository_client):
    response = repository_client.post("/predict/nope", json=FEATURES)
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown model 'nope'; available: digits, logistic, mnist, toy"}


def test_unknown_version_is_404(repository_client):
    response = repository_client.post("/predict/toy?version=9", json=FEATURES)
    assert response.status_code == 404
    assert response.json() == {"detail": "model 'toy' has no version '9' serving; serving: 1, 2"}


def test_default_routes_take_a_version(repository_client, png_digit):
    assert repository_client.post("/predict/logistic?version=1", json=FEATURES).status_code == 200
    assert (
        repository_client.post("/predict/mnist?version=1", files=upload(("d.png", png_digit()))).status_code
        == 200
    )
    assert (
        repository_client.post("/predict/mnist/pixels?version=2", json={"pixels": [0] * 784}).status_code
        == 404
    )


def test_v2_serves_each_version(repository_client):
    body = {"inputs": [{"name": "features", "shape": [1, 2], "datatype": "FP32", "data": [4.0, 3.0]}]}
    response = repository_client.post("/v2/models/toy/versions/1/infer", json=body)
    assert (response.status_code, response.json()["model_version"]) == (200, "1")
    assert repository_client.get("/v2/models/toy").json()["versions"] == ["1", "2"]
    assert repository_client.get("/v2/models/toy/versions/1/ready").json() == {"name": "toy", "ready": True}
