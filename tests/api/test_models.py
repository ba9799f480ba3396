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
    versions = info.pop("versions")
    assert [(v["version"], v["state"], v["checkpoint_version"]) for v in versions] == [
        ("1", "ready", "1.0.0")
    ]
    assert info == {
        "name": "mnist",
        "description": "Softmax regression on 28x28 MNIST digits: the digit and its ten probabilities.",
        "architecture": "softmax_regression",
        "state": "ready",
        "reason": None,
        "version": "1",
        "pinned_version": None,
        "version_policy": "latest 1",
        "config_error": None,
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


def test_get_model_failed_shows_reason(mnist_checkpoint, client_with):
    mnist_checkpoint.write_bytes(b"garbage")
    response = client_with().get("/models/mnist")
    assert response.status_code == 200
    info = response.json()
    assert (info["state"], info["version"], info["checkpoint"]) == ("failed", None, None)
    assert info["reason"].startswith(f"checkpoint {mnist_checkpoint}: not a readable checkpoint")
    assert info["versions"][0]["state"] == "failed"


def test_get_model_unknown_name(client):
    response = client.get("/models/resnet")
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown model 'resnet'; available: logistic, mnist"}
