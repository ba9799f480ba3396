"""The same FastAPI app deployed on a local one-node Ray cluster with two replicas (make test-ray)."""

from __future__ import annotations

import importlib.metadata
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import make_logistic

import models
from app.settings import Settings

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


KEY = "ray-admin-key-0123456789"
AUTH = {"X-API-Key": KEY}
POLL_SECONDS = 0.5
FEATURES = {"features": [4.0, 3.0]}


@pytest.fixture
def ray_settings(model_repository: Path) -> Settings:
    """Two versions of logistic, both served, so a pin has something to choose between."""
    models.save(make_logistic(), model_repository / "logistic" / "2.pt", version="2.0.0")
    (model_repository / "logistic" / "config.json").write_text('{"version_policy": {"all": {}}}')
    return Settings(
        model_repository=model_repository, device="cpu", api_key=KEY, repository_poll_seconds=POLL_SECONDS
    )


def _start_ray(attempts: int = 3) -> None:
    """A private one-node cluster ("local": even where RAY_ADDRESS or another running Ray would be found and
    joined). On a busy machine a node process now and then misses Ray's fixed start-up wait ("Timed out
    waiting for file ..." as a RuntimeError, "The current node timed out during startup" as a bare
    Exception), so a failed start is tried again from scratch."""
    for attempt in range(1, attempts + 1):
        try:
            ray.init(address="local", num_cpus=2, include_dashboard=False)
            return
        except Exception:
            ray.shutdown()
            if attempt == attempts:
                raise


@pytest.fixture
def ray_url(ray_settings: Settings, monkeypatch: pytest.MonkeyPatch):
    from app.ray_serve import RaySettings, build

    # Serve's controller gives its HTTP proxy 5 s to report ready, three times, then kills it; on a busy
    # machine the proxy's start-up alone can take longer. Ray's processes inherit this from the driver.
    monkeypatch.setenv("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")
    port = _free_port()
    _start_ray()
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build(RaySettings(replicas=2, num_cpus=0.5), ray_settings))
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def test_ray_serve_two_replicas_both_answer(ray_url: str):
    def predict(_: int) -> httpx.Response:
        return httpx.post(f"{ray_url}/predict/logistic", json=FEATURES, headers=AUTH, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(predict, range(64)))
    assert {r.status_code for r in responses} == {200}
    assert {r.json()["predictions"][0]["label"] for r in responses} == {1}
    assert len({r.headers["x-served-by"] for r in responses}) == 2


def versions_by_replica(url: str, count: int = 64) -> dict[str, set[str]]:
    """Which model versions each replica answered with, over ``count`` concurrent requests."""

    def predict(_: int) -> httpx.Response:
        return httpx.post(f"{url}/predict/logistic", json=FEATURES, headers=AUTH, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(predict, range(count)))
    assert {r.status_code for r in responses} == {200}
    served: dict[str, set[str]] = {}
    for response in responses:
        served.setdefault(response.headers["x-served-by"], set()).add(response.json()["model"]["version"])
    return served


def pin(url: str, version: int) -> None:
    response = httpx.put(
        f"{url}/admin/models/logistic/default", json={"version": version}, headers=AUTH, timeout=30
    )
    assert response.status_code == 200


def test_ray_serve_pin_reaches_every_replica(ray_url: str):
    assert set().union(*versions_by_replica(ray_url).values()) == {"2"}
    pin(ray_url, 1)  # taken by one replica; the other learns it from the repository on disk
    time.sleep(2 * POLL_SECONDS + 0.5)
    served = versions_by_replica(ray_url)
    assert len(served) == 2
    assert all(versions == {"1"} for versions in served.values())


def test_ray_serve_restarted_replica_serves_the_pinned_version(ray_url: str):
    pin(ray_url, 1)
    time.sleep(2 * POLL_SECONDS + 0.5)
    before = set(versions_by_replica(ray_url))
    replica = next(
        actor["name"]
        for actor in ray.util.list_named_actors(all_namespaces=True)
        if "digit-serving" in actor["name"] and actor["namespace"] == "serve"
    )
    ray.kill(ray.get_actor(replica, namespace="serve"), no_restart=True)  # Serve's controller replaces it
    deadline = time.monotonic() + 180  # a new replica imports torch: slow on a busy machine
    while True:
        try:
            served = versions_by_replica(ray_url)
        except (AssertionError, httpx.HTTPError):
            served = {}
        if len(served) == 2 and set(served) != before:
            break
        assert time.monotonic() < deadline, "Ray Serve did not replace the killed replica"
        time.sleep(1)
    assert all(versions == {"1"} for versions in served.values())


def test_ray_serve_replicas_run_the_lifespan(ray_url: str):
    response = httpx.get(f"{ray_url}/health/ready", timeout=30)
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_ray_serve_command_stays_rays():
    # Installing the ray extra beside this project leaves Ray's own `serve` CLI the only one of that name.
    commands = importlib.metadata.entry_points(group="console_scripts", name="serve")
    assert [c.value.split(":")[0] for c in commands] == ["ray.serve.scripts"]
