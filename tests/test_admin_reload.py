"""POST /admin/models/{name}/reload: swaps checkpoints under load, refuses bad ones, wants the key."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from conftest import make_logistic, make_softmax
from fastapi.testclient import TestClient
from pydantic import SecretStr

import models
from app.core import control
from app.main import create_app
from app.settings import Settings

KEY = "admin-key-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
FEATURES = [4.0, 3.0]
RELOAD = "/admin/models/logistic/reload"


def make_logistic_v2() -> models.LogisticRegression:
    """The v1 weights negated: its answers are the complement of v1's, so the two are easy to tell apart."""
    model = make_logistic()
    with torch.no_grad():
        model.linear.weight.neg_()
        model.linear.bias.neg_()
    return model


def probability(model: models.LogisticRegression) -> float:
    with torch.inference_mode():
        return model(torch.tensor([FEATURES])).item()


@pytest.fixture
def reload_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "reload"
    models.save(make_logistic(), folder / "logistic-v1.pt", version="1.0.0")
    models.save(make_logistic_v2(), folder / "logistic-v2.pt", version="2.0.0")
    return folder


@pytest.fixture
def admin(settings: Settings, reload_dir: Path) -> Iterator[TestClient]:
    keyed = settings.model_copy(update={"api_key": SecretStr(KEY), "reload_dir": reload_dir})
    with TestClient(create_app(keyed)) as client:
        yield client


def served_version(client: TestClient) -> str:
    return client.get("/models/logistic", headers=AUTH).json()["version"]


def test_reload_from_path_serves_new_version(admin, reload_dir):
    response = admin.post(RELOAD, json={"path": "logistic-v2.pt"}, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["version"], body["previous_version"]) == ("logistic", "2.0.0", "1.0.0")
    assert body["path"] == str((reload_dir / "logistic-v2.pt").resolve())
    assert body["sha256"] == models.load(reload_dir / "logistic-v2.pt").sha256
    predicted = admin.post("/predict/logistic", json={"features": FEATURES}, headers=AUTH).json()
    assert predicted["model"]["version"] == "2.0.0"
    assert predicted["predictions"][0]["probability"] == pytest.approx(probability(make_logistic_v2()))


def test_reload_without_body_rereads_configured_checkpoint(admin, settings):
    models.save(make_logistic_v2(), settings.logistic_checkpoint, version="1.1.0")
    response = admin.post(RELOAD, headers=AUTH)
    assert response.status_code == 200
    assert (response.json()["version"], response.json()["previous_version"]) == ("1.1.0", "1.0.0")


def test_reload_without_key_is_401(admin):
    response = admin.post(RELOAD, json={"path": "logistic-v2.pt"})
    assert response.status_code == 401
    assert response.json() == {"detail": "missing API key: send Authorization: Bearer <key> or X-API-Key"}
    assert response.headers["www-authenticate"] == "Bearer"
    assert served_version(admin) == "1.0.0"


def test_reload_with_wrong_key_is_401(admin):
    response = admin.post(RELOAD, json={"path": "logistic-v2.pt"}, headers={"X-API-Key": "nope"})
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key"}
    assert served_version(admin) == "1.0.0"


def test_reload_without_configured_key_is_disabled(client):
    response = client.post(RELOAD)
    assert response.status_code == 403
    assert response.json() == {"detail": "admin endpoints are disabled: set SERVE_API_KEY to enable them"}


def test_reload_unknown_model_is_404(admin):
    response = admin.post("/admin/models/nope/reload", headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown model 'nope'; available: logistic, mnist"}


def test_reload_with_unknown_body_field_is_422(admin):
    response = admin.post(RELOAD, json={"file": "logistic-v2.pt"}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]


@pytest.mark.parametrize("outside", ["../logistic.pt", "sub/../../logistic.pt"])
def test_reload_path_outside_reload_dir_is_403(admin, reload_dir, outside):
    response = admin.post(RELOAD, json={"path": outside}, headers=AUTH)
    assert response.status_code == 403
    assert response.json() == {"detail": f"path {outside!r} is outside the reload directory {reload_dir}"}
    assert served_version(admin) == "1.0.0"


def test_reload_absolute_path_outside_reload_dir_is_403(admin, reload_dir, settings):
    outside = str(settings.logistic_checkpoint.resolve())
    response = admin.post(RELOAD, json={"path": outside}, headers=AUTH)
    assert response.status_code == 403
    assert response.json() == {"detail": f"path {outside!r} is outside the reload directory {reload_dir}"}


def test_reload_symlink_leaving_reload_dir_is_403(admin, reload_dir, settings):
    (reload_dir / "escape.pt").symlink_to(settings.logistic_checkpoint.resolve())
    response = admin.post(RELOAD, json={"path": "escape.pt"}, headers=AUTH)
    assert response.status_code == 403
    assert response.json() == {"detail": f"path 'escape.pt' is outside the reload directory {reload_dir}"}


def test_reload_path_with_nul_byte_is_422(admin):
    response = admin.post(RELOAD, json={"path": "a\x00.pt"}, headers=AUTH)
    assert response.status_code == 422
    assert response.json() == {"detail": "path 'a\\x00.pt' cannot be resolved: embedded null byte"}


def write_bad_checkpoint(reload_dir: Path, kind: str) -> Path:
    path = reload_dir / f"{kind}.pt"
    if kind == "not-a-dict":
        torch.save([1, 2, 3], path)
    elif kind == "wrong-architecture":
        models.save(make_softmax(), path, version="9.9.9")
    elif kind == "shape-mismatch":
        payload = torch.load(reload_dir / "logistic-v2.pt", weights_only=True)
        payload["state_dict"]["linear.weight"] = torch.zeros(1, 3)
        torch.save(payload, path)
    return path


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("missing", "file not found"),
        ("not-a-dict", "expected a checkpoint dict, found list"),
        ("wrong-architecture", "holds a softmax_regression model, expected logistic_regression"),
        ("shape-mismatch", "weights do not fit logistic_regression with config LogisticConfig("),
    ],
)
def test_reload_bad_checkpoint_is_422_and_old_model_serves(admin, reload_dir, kind, problem):
    path = write_bad_checkpoint(reload_dir, kind)
    response = admin.post(RELOAD, json={"path": path.name}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"checkpoint {path.resolve()}: {problem}")
    assert served_version(admin) == "1.0.0"
    predicted = admin.post("/predict/logistic", json={"features": FEATURES}, headers=AUTH)
    assert predicted.json()["model"]["version"] == "1.0.0"


def test_reload_truncated_checkpoint_is_422(admin, reload_dir):
    path = reload_dir / "truncated.pt"
    path.write_bytes((reload_dir / "logistic-v2.pt").read_bytes()[:100])
    response = admin.post(RELOAD, json={"path": path.name}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(
        f"checkpoint {path.resolve()}: not a readable checkpoint (corrupt or truncated): "
    )
    assert served_version(admin) == "1.0.0"


def test_concurrent_reloads_load_one_at_a_time(admin, monkeypatch):
    load_servable, active, most_active = control.load_servable, [0], [0]

    def slow_counted_load(*args):
        active[0] += 1
        most_active[0] = max(most_active[0], active[0])
        time.sleep(0.05)  # a window for another reload to enter, were it not serialised
        try:
            return load_servable(*args)
        finally:
            active[0] -= 1

    monkeypatch.setattr(control, "load_servable", slow_counted_load)
    with ThreadPoolExecutor(3) as pool:
        names = ["logistic-v2.pt", "logistic-v1.pt", "logistic-v2.pt"]
        responses = list(pool.map(lambda n: admin.post(RELOAD, json={"path": n}, headers=AUTH), names))
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert most_active[0] == 1


def test_predictions_keep_flowing_and_match_their_version_during_reloads(admin):
    expected = {"1.0.0": probability(make_logistic()), "2.0.0": probability(make_logistic_v2())}
    reloading = threading.Event()
    reloading.set()
    outcomes: list[tuple[int, str | None, float | None]] = []

    def hammer() -> None:
        while reloading.is_set():
            response = admin.post("/predict/logistic", json={"features": FEATURES}, headers=AUTH)
            if response.status_code != 200:
                outcomes.append((response.status_code, None, None))
                continue
            body = response.json()
            outcomes.append((200, body["model"]["version"], body["predictions"][0]["probability"]))

    def reload_back_and_forth() -> list[int]:
        try:
            statuses = []
            for i in range(6):
                name = "logistic-v2.pt" if i % 2 == 0 else "logistic-v1.pt"
                statuses.append(admin.post(RELOAD, json={"path": name}, headers=AUTH).status_code)
                time.sleep(0.05)  # let some requests run on each version
            return statuses
        finally:
            reloading.clear()

    with ThreadPoolExecutor(5) as pool:
        hammers = [pool.submit(hammer) for _ in range(4)]
        assert pool.submit(reload_back_and_forth).result(timeout=60) == [200] * 6
        for future in hammers:
            future.result(timeout=60)

    assert outcomes
    assert {status for status, _, _ in outcomes} == {200}
    assert {version for _, version, _ in outcomes} == {"1.0.0", "2.0.0"}
    for _, version, probability_seen in outcomes:
        assert probability_seen == pytest.approx(expected[version])
