"""Each worker follows the repository on disk: new and removed versions, policies, pins, bad files."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from api.helpers import metric_sample
from conftest import make_logistic, make_softmax

import models

FEATURES = {"features": [4.0, 3.0]}


def save(repository: Path, version: int, name: str = "logistic") -> Path:
    model = make_softmax() if name == "mnist" else make_logistic()
    return models.save(model, repository / name / f"{version}.pt", version=f"{version}.0.0")


def write_config(repository: Path, config: dict, name: str = "logistic") -> None:
    (repository / name / "config.json").write_text(json.dumps(config))


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the repository change did not reach the worker in time"
        time.sleep(0.05)


def answer(client, version: str | None = None) -> tuple[int, str | None]:
    """(status, the version that answered) of a /predict/logistic request."""
    query = f"?version={version}" if version else ""
    response = client.post(f"/predict/logistic{query}", json=FEATURES)
    return response.status_code, response.json()["model"]["version"] if response.status_code == 200 else None


def states(client, name: str = "logistic") -> dict[str, str]:
    return {v["version"]: v["state"] for v in client.get(f"/models/{name}").json()["versions"]}


def test_new_version_becomes_the_default(client, model_repository):
    save(model_repository, 2)
    eventually(lambda: answer(client) == (200, "2"))
    assert states(client) == {"1": "unloaded", "2": "ready"}


def test_older_version_stops_serving_under_latest_policy(client, model_repository):
    save(model_repository, 2)
    eventually(lambda: answer(client) == (200, "2"))
    response = client.post("/predict/logistic?version=1", json=FEATURES)
    assert response.status_code == 404
    assert response.json() == {"detail": "model 'logistic' has no version '1' serving; serving: 2"}


def test_policy_latest_n(client, model_repository):
    write_config(model_repository, {"version_policy": {"latest": {"num_versions": 2}}})
    save(model_repository, 2)
    save(model_repository, 3)
    eventually(lambda: states(client) == {"1": "unloaded", "2": "ready", "3": "ready"})
    assert [answer(client, v) for v in ("2", "3", None)] == [(200, "2"), (200, "3"), (200, "3")]


def test_policy_all(client, model_repository):
    write_config(model_repository, {"version_policy": {"all": {}}})
    save(model_repository, 2)
    eventually(lambda: states(client) == {"1": "ready", "2": "ready"})
    assert client.get("/v2/models/logistic").json()["versions"] == ["1", "2"]


def test_policy_specific(client, model_repository):
    write_config(model_repository, {"version_policy": {"specific": {"versions": [1, 3]}}})
    save(model_repository, 2)
    save(model_repository, 3)
    eventually(lambda: states(client) == {"1": "ready", "2": "unloaded", "3": "ready"})
    assert answer(client) == (200, "3")


def test_pinned_default_version_serves_requests_without_a_version(client, model_repository):
    write_config(model_repository, {"default_version": 1})
    save(model_repository, 2)
    eventually(lambda: states(client) == {"1": "ready", "2": "ready"})
    assert [answer(client), answer(client, "2")] == [(200, "1"), (200, "2")]
    assert client.get("/models/logistic").json()["pinned_version"] == "1"


def test_removed_version_stops_serving(client, model_repository):
    save(model_repository, 2)
    eventually(lambda: answer(client) == (200, "2"))
    (model_repository / "logistic" / "2.pt").unlink()
    eventually(lambda: answer(client) == (200, "1"))
    assert states(client) == {"1": "ready"}


def test_removed_model_folder_disappears(client, model_repository):
    for path in (model_repository / "mnist").iterdir():
        path.unlink()
    (model_repository / "mnist").rmdir()
    eventually(lambda: client.get("/models/mnist").status_code == 404)
    assert client.get("/health/ready").status_code == 200


def test_new_model_folder_serves_at_its_own_route(client, model_repository):
    save(model_repository, 1, name="toy")
    eventually(lambda: client.post("/predict/toy", json=FEATURES).status_code == 200)
    assert client.post("/predict/toy", json=FEATURES).json()["model"] == {
        "name": "toy",
        "version": "1",
        "architecture": "logistic_regression",
    }


def test_half_written_file_never_serves_then_loads_when_complete(client, model_repository, tmp_path):
    complete = save(tmp_path, 2).read_bytes()
    target = model_repository / "logistic" / "2.pt"
    target.write_bytes(complete[: len(complete) // 2])
    eventually(lambda: states(client).get("2") == "failed")
    assert answer(client) == (200, "1")
    target.write_bytes(complete)
    eventually(lambda: answer(client) == (200, "2"))


def _nan_weights(path: Path) -> None:
    model = make_logistic()
    with torch.no_grad():
        model.linear.weight[0, 0] = float("nan")
    models.save(model, path)


def _payload(path: Path, **changes) -> None:
    payload = torch.load(save(path.parents[2] / "scratch", 9), weights_only=True)  # beside the repository
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(payload.get(key), dict) and key != "metadata":
            payload[key] = {**payload[key], **value}
        else:
            payload[key] = value
    torch.save(payload, path)


BAD_FILES = {
    "corrupt": (lambda p: p.write_bytes(b"not a checkpoint at all"), "not a readable checkpoint"),
    "NaN weights": (_nan_weights, "weight 'linear.weight' holds NaN or infinite values"),
    "wrong shapes": (
        lambda p: _payload(p, state_dict={"linear.weight": torch.zeros(1, 3), "linear.bias": torch.zeros(1)}),
        "weights do not fit logistic_regression",
    ),
    "float config": (lambda p: _payload(p, config={"in_features": 2.0}), "in_features must be an integer"),
    "metadata list": (
        lambda p: _payload(p, metadata=["accuracy", 1.0]),
        "metadata (and its metrics) must be",
    ),
    "FIFO": (lambda p: os.mkfifo(p), "is a FIFO, not a regular file"),
    "directory": (lambda p: p.mkdir(), "is a directory, not a checkpoint file"),
    "huge": (lambda p: (p.write_bytes(b""), os.truncate(p, 2 * 1024 * 1024)), "over the limit of 1048576"),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_file_fails_visibly_and_never_serves(client_with, model_repository, kind):
    client = client_with(max_checkpoint_bytes=1024 * 1024)
    make_bad, problem = BAD_FILES[kind]
    make_bad(model_repository / "logistic" / "2.pt")
    eventually(lambda: states(client).get("2") == "failed")
    version = client.get("/models/logistic").json()["versions"][-1]
    assert problem in version["reason"]
    assert answer(client) == (200, "1")
    assert metric_sample(client, "model_load_failures_total", model="logistic", version="2") >= 1


def test_bad_replacement_of_a_serving_version_keeps_it_serving(client, model_repository):
    path = model_repository / "logistic" / "1.pt"
    sha = client.get("/models/logistic").json()["checkpoint"]["sha256"]
    path.write_bytes(b"garbage")
    eventually(lambda: client.get("/models/logistic").json()["versions"][0]["reason"] is not None)
    info = client.get("/models/logistic").json()
    assert (info["state"], info["versions"][0]["state"], info["checkpoint"]["sha256"]) == (
        "ready",
        "ready",
        sha,
    )
    assert answer(client) == (200, "1")


def test_bad_config_keeps_the_last_good_one(client, model_repository):
    write_config(model_repository, {"default_version": 1})
    save(model_repository, 2)
    eventually(lambda: states(client) == {"1": "ready", "2": "ready"})
    write_config(model_repository, {"default_version": "one"})
    eventually(lambda: client.get("/models/logistic").json()["config_error"] is not None)
    assert "default_version" in client.get("/models/logistic").json()["config_error"]
    assert answer(client) == (200, "1")


def test_stray_files_are_ignored_with_one_warning(client, model_repository, caplog):
    caplog.set_level(logging.WARNING, logger="app.core.control")
    (model_repository / "logistic" / "notes.txt").write_text("hello")
    (model_repository / "Bad Name").mkdir()
    eventually(lambda: len(caplog.records) >= 2)
    time.sleep(0.5)  # a couple more polls: still one warning each
    messages = sorted(r.getMessage() for r in caplog.records)
    assert len(messages) == 2
    assert "Bad Name: not a model folder" in messages[0]
    assert "notes.txt: not <version>.pt" in messages[1]
    assert [m["name"] for m in client.get("/models").json()["models"]] == ["logistic", "mnist"]


def test_explicit_mode_ignores_new_files_until_an_admin_call(client_with, model_repository):
    client = client_with(repository_mode="explicit")
    save(model_repository, 2)
    time.sleep(0.6)  # three poll intervals
    assert answer(client) == (200, "1")
    client.portal.call(client.app.state.control.reload, "logistic")
    assert answer(client) == (200, "2")


def test_request_in_flight_finishes_on_its_version_during_unload(client, model_repository):
    dataplane = client.app.state.dataplane
    held = dataplane.servable("logistic")  # what a request took when it started
    client.portal.call(client.app.state.control.unload, "logistic")
    assert client.post("/predict/logistic", json=FEATURES).status_code == 503
    _, labels = client.portal.call(dataplane.predict, held, [[4.0, 3.0]])
    assert (held.version, labels) == ("1", [1])
