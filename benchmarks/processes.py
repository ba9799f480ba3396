"""Starting a server for a benchmark, waiting until it is ready, and reading the CPU its processes use."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TICKS = os.sysconf("SC_CLK_TCK")
# Each server compared, one uvicorn worker each, on the port that replaces "{port}".
SERVER_COMMANDS = {
    "ours": [sys.executable, "-m", "app.cli", "--port", "{port}"],  # digit-serve, every production feature on
    "naive": [sys.executable, "-m", "uvicorn", "benchmarks.peers.naive_server:app", "--port", "{port}"],
    "litserve": [sys.executable, str(ROOT / "benchmarks/peers/litserve_server.py"), "--port", "{port}"],
    "floor": [sys.executable, "-m", "benchmarks.peers.floor_server", "--port", "{port}"],
}
SERVER_COMMANDS["floor@bare"] = [*SERVER_COMMANDS["floor"], "--front", "bare"]  # no uvicorn either
# The same apps under granian (pip install '.[bench]'), configured as uvicorn is; {log_config}: our logging
# configuration as granian reads one (benchmarks/peers/frameworks.py writes it).
_GRANIAN = [str(Path(sys.executable).with_name("granian")), "--interface", "asgi", "--host", "127.0.0.1"]
_GRANIAN += ["--port", "{port}", "--workers", "1", "--loop", "uvloop", "--http", "1", "--no-ws"]
_GRANIAN += ["--log-config", "{log_config}"]
SERVER_COMMANDS["ours@granian"] = [*_GRANIAN, "app.main:app"]
SERVER_COMMANDS["floor@granian"] = [*_GRANIAN, "benchmarks.peers.floor_server:app"]


def server_argv(name: str, port: int, log_config: Path | None = None) -> list[str]:
    return [part.format(port=port, log_config=log_config) for part in SERVER_COMMANDS[name]]


def _parents() -> dict[int, int]:
    """pid -> parent pid for every process visible in /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    return parents


def _tree(pid: int) -> list[int]:
    parents = _parents()
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += [child for child, parent in parents.items() if parent == current]
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and every process below it (LitServe runs worker processes)."""
    total = 0
    for member in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(
    port: int, process: subprocess.Popen, timeout: float = 120.0, path: str = "/health/ready"
) -> float:
    """Seconds until GET ``path`` answers 200; raises if the server dies or never gets there."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.02)
    raise TimeoutError(f"server on port {port} not ready after {timeout:.0f} s")


@contextlib.contextmanager
def running_server(
    argv: list[str],
    port: int,
    *,
    env: dict[str, str],
    cwd: Path = ROOT,
    ready_path: str = "/health/ready",
    ready_timeout: float = 120.0,
    log: Path | None = None,
) -> Iterator[int]:
    """Run ``argv`` until the block ends; yields its pid once GET ``ready_path`` on ``port`` says 200.

    ``log``: a file for the server's output (default: discarded)."""
    # Ours serves gRPC too: on a free port of its own unless ``env`` names one, so that two can run at once.
    env = {"SERVE_GRPC_PORT": str(free_port()), **env}
    output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_ready(port, process, ready_timeout, ready_path)
        yield process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)  # its own session: the server and its workers, no more
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if log:
            output.close()
