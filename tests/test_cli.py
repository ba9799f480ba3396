"""The `digit-serve` command hands uvicorn the process settings from the environment and its flags."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import socket
from contextlib import nullcontext

import pytest
import uvicorn
from live_server import free_port

from app import cli
from app.http_protocol import GuardedHttpToolsProtocol
from app.settings import Settings


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    monkeypatch.setattr(cli, "get_settings", Settings)  # read the environment afresh, uncached
    monkeypatch.setattr(signal, "signal", lambda signum, handler: None)  # keep pytest's own handlers
    monkeypatch.setattr(cli, "metrics_dir", lambda workers: nullcontext())  # no multiprocess dir in tests
    monkeypatch.setattr(os, "environ", {**os.environ})  # what serve sets for its workers stays in the test
    monkeypatch.setenv("SERVE_GRPC_PORT", str(free_port()))  # checked free: 8001 may be taken here
    return calls


def test_serve_passes_environment_to_uvicorn(
    uvicorn_calls: list[tuple], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "HOST": "0.0.0.0",
        "PORT": "9001",
        "SERVE_WORKERS": "3",
        "SERVE_KEEP_ALIVE_SECONDS": "7",
        "SERVE_GRACEFUL_TIMEOUT_SECONDS": "4",
    }.items():
        monkeypatch.setenv(name, value)

    cli.main([])

    [(app, options)] = uvicorn_calls
    assert app == "app.main:app"
    assert {k: v for k, v in options.items() if k not in ("log_config", "access_log")} == {
        "host": "0.0.0.0",
        "port": 9001,
        "workers": 3,
        "timeout_keep_alive": 7,
        "http": GuardedHttpToolsProtocol,
        "timeout_graceful_shutdown": 4,
    }


def test_serve_workers_flag_overrides_environment(
    uvicorn_calls: list[tuple], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVE_WORKERS", "3")

    cli.main(["--workers", "2"])

    assert uvicorn_calls[0][1]["workers"] == 2


def test_console_scripts_carry_the_project_prefix() -> None:
    # A bare name such as `serve` would replace another package's command (Ray's) in the same venv.
    distribution = importlib.metadata.distribution("digit-logistic-serving")
    scripts = {e.name for e in distribution.entry_points if e.group == "console_scripts"}

    assert scripts == {"digit-serve", "digit-serve-ray", "digit-train-logistic", "digit-train-mnist"}


def test_serve_usage_names_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])

    assert capsys.readouterr().out.startswith("usage: digit-serve ")


def test_serve_binds_grpc_where_http_binds(uvicorn_calls: list[tuple]) -> None:
    cli.main(["--host", "0.0.0.0"])

    assert os.environ["SERVE_GRPC_HOST"] == "0.0.0.0"


def test_serve_exits_when_the_grpc_port_is_taken(
    uvicorn_calls: list[tuple], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        monkeypatch.setenv("SERVE_GRPC_PORT", str(holder.getsockname()[1]))
        with pytest.raises(SystemExit, match=r"gRPC port 127\.0\.0\.1:\d+ is in use"):
            cli.main([])

    assert uvicorn_calls == []
