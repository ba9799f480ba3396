import hashlib


def test_list_models_names_both(client):
    response = client.get("/models")
    assert response.status_code == 200
    assert [m["name"] for m in response.json()["models"]] == ["logistic", "mnist"]


def test_get_model_describes_checkpoint(client, mnist_checkpoint):
    response = client.get("/models/mnist")
    assert response.status_code == 200
    info = response.json()
    training = info.pop("training")
    assert info.pop("load_seconds") >= 0
    assert info == {
        "name": "mnist",
        "description": "Softmax regression on 28x28 MNIST digits: the digit and its ten probabilities.",
        "architecture": "softmax_regression",
        "state": "ready",
        "reason": None,
        "version": "1.0.0",
        "device": "cpu",
        "input": {
            "image_size": 28,
            "num_classes": 10,
            "pixel_scale": 255.0,
            "mean": 0.1307,
            "std": 0.3081,
            "polarity": "white_on_black",
        },
        "metrics": {"accuracy": 0.1},
        "checkpoint": {
            "path": str(mnist_checkpoint),
            "sha256": hashlib.sha256(mnist_checkpoint.read_bytes()).hexdigest(),
            "size_bytes": mnist_checkpoint.stat().st_size,
        },
    }
    assert set(training) == {"created_at", "torch_version"}


def test_get_model_logistic_input(client):
    response = client.get("/models/logistic")
    assert response.status_code == 200
    assert response.json()["input"] == {
        "in_features": 2,
        "feature_names": ["x1", "x2"],
        "threshold": 0.5,
        "mean": [],
        "std": [],
    }


def test_get_model_failed_shows_reason(tmp_path, client_with):
    response = client_with(mnist_checkpoint=tmp_path / "gone.pt").get("/models/mnist")
    assert response.status_code == 200
    info = response.json()
    assert (info["state"], info["reason"], info["version"], info["checkpoint"]) == (
        "failed",
        f"checkpoint {tmp_path / 'gone.pt'}: file not found",
        None,
        None,
    )


def test_get_model_unknown_name(client):
    response = client.get("/models/resnet")
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown model 'resnet'; available: logistic, mnist"}
