import pytest
from fastapi.testclient import TestClient

from api.helpers import png_declaring, upload

_READY = {"state": "ready", "reason": None}


def test_live(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_ready_when_models_loaded(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "detail": None,
        "models": {
            "logistic": {"state": "ready", "reason": None},
            "mnist": {"state": "ready", "reason": None},
        },
    }


def test_ready_before_models_load(app):
    response = TestClient(app).get("/health/ready")  # no `with`: the lifespan has not run
    assert response.status_code == 503
    assert response.json()["status"] == "starting"
    assert response.json()["detail"] == "the model repository is being read"


def test_ready_reports_mnist_without_versions_while_logistic_serves(mnist_checkpoint, client_with):
    mnist_checkpoint.unlink()
    client = client_with()
    response = client.get("/health/ready")
    assert response.status_code == 503
    reason = "no version files (<version>.pt) in its folder"
    assert response.json() == {
        "status": "failed",
        "detail": f"model 'mnist' failed to load: {reason}",
        "models": {
            "logistic": {"state": "ready", "reason": None},
            "mnist": {"state": "failed", "reason": reason},
        },
    }
    assert client.post("/predict/logistic", json={"features": [1.0, 2.0]}).status_code == 200


def test_ready_reports_corrupt_logistic_while_mnist_serves(logistic_checkpoint, client_with):
    corrupt = logistic_checkpoint
    corrupt.write_bytes(b"this is not a checkpoint")
    client = client_with()
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["models"]["logistic"]["state"] == "failed"
    assert response.json()["models"]["logistic"]["reason"].startswith(
        f"checkpoint {corrupt}: not a readable checkpoint (corrupt or truncated)"
    )
    assert client.post("/predict/mnist/pixels", json={"pixels": [0] * 784}).status_code == 200


_JSON, _TEXT = {"content-type": "application/json"}, {"content-type": "text/plain"}
BAD_REQUESTS = [  # (path, request, the status it is refused with; each detail is pinned per endpoint)
    ("/predict/logistic", {"json": {"features": [1.0]}}, 422),
    ("/predict/logistic", {"content": b'{"features": [NaN, 1]}', "headers": _JSON}, 422),
    ("/predict/logistic", {"content": b"{", "headers": _JSON}, 400),
    (
        "/predict/logistic",
        {"content": b'{"features": [1, 2]}', "headers": {"content-type": "text/plain"}},
        415,
    ),
    ("/predict/logistic", {"json": {"instances": [[1.0, 2.0]] * 65}}, 413),
    ("/predict/mnist/pixels", {"json": {"pixels": [[0] * 28] * 27}}, 422),
    ("/predict/mnist/pixels", {"json": {"pixels": [300] * 784}}, 422),
    ("/predict/mnist", {"files": upload(("x.png", b"not an image"))}, 422),
    ("/predict/mnist", {"files": upload(("x.png", b""))}, 422),
    ("/predict/mnist", {"files": upload(("bomb.png", png_declaring(20000, 20000)))}, 413),
    ("/predict/mnist", {"files": upload(("x.svg", b"<svg/>"))}, 415),
    ("/predict/mnist", {"files": upload(*[("x.png", b"x")] * 65)}, 413),
    ("/predict/mnist", {"json": {}}, 415),
    ("/models/resnet", None, 404),
]


@pytest.mark.parametrize(("path", "request_args", "status"), BAD_REQUESTS)
def test_ready_after_bad_request(client, path, request_args, status):
    response = client.get(path) if request_args is None else client.post(path, **request_args)
    assert response.status_code == status
    assert client.get("/health/ready").status_code == 200
