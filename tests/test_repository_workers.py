"""Admin changes reach every worker of a real ``serve`` process, and survive worker and process restarts."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from conftest import make_logistic
from live_server import serve_process, worker_pids

import models

KEY = "workers-key-0123456789"
AUTH = {"X-API-Key": KEY}
POLL_SECONDS = 0.5
FEATURES = {"features": [4.0, 3.0]}


@pytest.fixture
def env(model_repository: Path) -> dict[str, str]:
    models.save(make_logistic(), model_repository / "logistic" / "2.pt", version="2.0.0")
    (model_repository / "logistic" / "config.json").write_text('{"version_policy": {"all": {}}}')
    return {
        "SERVE_MODEL_REPOSITORY": str(model_repository),
        "SERVE_WORKERS": "2",
        "SERVE_API_KEY": KEY,
        "SERVE_REPOSITORY_POLL_SECONDS": str(POLL_SECONDS),
        "SERVE_ACCESS_LOG": "false",
    }


def versions_served(port: int, count: int = 20) -> set[str]:
    """The versions that answered ``count`` requests, each on a new connection (so both workers serve)."""
    served = set()
    for _ in range(count):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH) as client:
            served.add(client.post("/predict/logistic", json=FEATURES).json()["model"]["version"])
    return served


def pin(port: int, version: int | None) -> None:
    response = httpx.put(
        f"http://127.0.0.1:{port}/admin/models/logistic/default", json={"version": version}, headers=AUTH
    )
    assert response.status_code == 200


def test_pin_reaches_every_worker_within_two_poll_intervals(env, tmp_path):
    with serve_process(env, tmp_path / "serve.log") as (_, port):
        assert versions_served(port, 10) == {"2"}
        pin(port, 1)
        time.sleep(2 * POLL_SECONDS + 0.5)  # two intervals, and the load itself
        assert versions_served(port) == {"1"}


def test_respawned_worker_serves_the_pinned_version(env, tmp_path):
    with serve_process(env, tmp_path / "serve.log") as (process, port):
        pin(port, 1)
        time.sleep(2 * POLL_SECONDS + 0.5)
        before = worker_pids(process.pid)
        assert len(before) == 2
        os.kill(before[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not (len(now := worker_pids(process.pid)) == 2 and before[0] not in now):
            assert time.monotonic() < deadline, "uvicorn did not respawn the worker"
            time.sleep(0.2)
        time.sleep(3)  # the new worker's start-up
        assert versions_served(port) == {"1"}


def test_process_restart_keeps_the_pinned_version(env, tmp_path):
    with serve_process(env, tmp_path / "first.log") as (_, port):
        pin(port, 1)
    with serve_process(env, tmp_path / "second.log") as (_, port):
        assert versions_served(port) == {"1"}
