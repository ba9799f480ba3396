"""The same FastAPI app deployed on a local one-node Ray cluster with two replicas (make test-ray)."""

from __future__ import annotations

import importlib.metadata
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from app.settings import Settings

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ray_url(settings: Settings):
    from app.ray_serve import RaySettings, build

    port = _free_port()
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build(RaySettings(replicas=2, num_cpus=0.5), settings))
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def test_ray_serve_two_replicas_both_answer(ray_url: str):
    def predict(_: int) -> httpx.Response:
        return httpx.post(f"{ray_url}/predict/logistic", json={"features": [4.0, 3.0]}, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(predict, range(64)))
    assert {r.status_code for r in responses} == {200}
    assert {r.json()["predictions"][0]["label"] for r in responses} == {1}
    assert len({r.headers["x-served-by"] for r in responses}) == 2


def test_ray_serve_replicas_run_the_lifespan(ray_url: str):
    response = httpx.get(f"{ray_url}/health/ready", timeout=30)
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_ray_serve_command_stays_rays():
    # Installing the ray extra beside this project leaves Ray's own `serve` CLI the only one of that name.
    commands = importlib.metadata.entry_points(group="console_scripts", name="serve")
    assert [c.value.split(":")[0] for c in commands] == ["ray.serve.scripts"]
