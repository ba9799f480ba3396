"""`serve` with gRPC as a real process: SIGTERM lets calls in flight finish; both workers answer gRPC.

Which worker answers a connection is read from /proc: the process that holds the server side of it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from live_server import free_port, serve_process, worker_pids
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

GRACEFUL_TIMEOUT_SECONDS = 5
POLL_SECONDS = 0.5
START_TIMEOUT = 120  # two workers importing torch at once, on cores other test suites share


def _mnist_request() -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="mnist", raw_input_contents=[bytes(784)])
    request.inputs.add(name="pixels", datatype="UINT8", shape=[1, 784])
    return request


def _sockets(port: int, state: str) -> set[str]:
    """The inodes of the sockets whose local side is ``port`` in ``state`` (0A: LISTEN, 01: ESTABLISHED)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):  # gRPC binds IPv6 sockets, IPv4 clients map onto them
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == state:
                found.add(fields[9])
    return found


def _holders(pids: list[int], inodes: set[str]) -> set[int]:
    """Which of ``pids`` hold one of the sockets ``inodes`` open."""
    holders = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):  # an fd closed while we look
                if os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes:
                    holders.add(pid)
    return holders


@contextlib.contextmanager
def _connections(port: int, count: int) -> Iterator[list[service_pb2_grpc.GRPCInferenceServiceStub]]:
    """``count`` stubs, each on a TCP connection of its own (by default channels share one per target)."""
    with contextlib.ExitStack() as stack:
        channels = [
            stack.enter_context(
                grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
            )
            for _ in range(count)
        ]
        yield [service_pb2_grpc.GRPCInferenceServiceStub(channel) for channel in channels]


def _two_workers_listening(process: subprocess.Popen, port: int) -> list[int]:
    workers = worker_pids(process.pid)
    deadline = time.monotonic() + 120
    while len(_holders(workers, _sockets(port, "0A"))) < 2:  # the second worker may still be loading
        assert time.monotonic() < deadline, "the two workers did not both listen on the gRPC port"
        time.sleep(0.2)
        workers = worker_pids(process.pid)
    return workers


def test_serve_sigterm_lets_a_grpc_call_in_flight_finish(serve_env: dict[str, str], tmp_path: Path):
    grpc_port = free_port()
    env = {
        **serve_env,
        "SERVE_GRPC_PORT": str(grpc_port),
        "SERVE_GRACEFUL_TIMEOUT_SECONDS": str(GRACEFUL_TIMEOUT_SECONDS),
        # A lone prediction waits a second for company: long enough to be in flight at SIGTERM.
        "SERVE_BATCHING": "true",
        "SERVE_BATCH_MAX_WAIT_MS": "1000",
    }
    with (
        serve_process(env, tmp_path / "serve.log") as (process, _),
        grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel,
    ):
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        in_flight = stub.ModelInfer.future(_mnist_request(), timeout=20)
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        response = in_flight.result()
        exit_code = process.wait(timeout=GRACEFUL_TIMEOUT_SECONDS + 10)
        with pytest.raises(grpc.RpcError) as after:
            stub.ServerLive(pb.ServerLiveRequest(), timeout=5)

    assert [o.name for o in response.outputs] == ["probabilities", "digit"]
    assert exit_code == 0
    assert after.value.code() == grpc.StatusCode.UNAVAILABLE


def test_serve_both_workers_answer_grpc(serve_env: dict[str, str], tmp_path: Path):
    grpc_port = free_port()
    env = {**serve_env, "SERVE_GRPC_PORT": str(grpc_port), "SERVE_WORKERS": "2"}
    with serve_process(env, tmp_path / "serve.log", start_timeout=START_TIMEOUT) as (process, _):
        workers = _two_workers_listening(process, grpc_port)
        # 16 connections, each answered: the kernel spreads them over the workers (all on one: 2 ** -15).
        with _connections(grpc_port, 16) as stubs:
            answers = [stub.ModelInfer(_mnist_request(), timeout=30).model_name for stub in stubs]
            answered_by = _holders(workers, _sockets(grpc_port, "01"))

    assert answers == ["mnist"] * 16
    assert answered_by == set(workers)
    assert len(answered_by) == 2


def _readiness_everywhere(stubs, key, wanted: bool) -> list[bool]:
    """Each connection's answer to ModelReady(mnist), once all agree on ``wanted`` or 30 s have passed."""
    deadline = time.monotonic() + 30  # two poll intervals and a load, on a machine that may be busy
    while True:
        answers = [stub.ModelReady(pb.ModelReadyRequest(name="mnist"), metadata=key).ready for stub in stubs]
        if answers == [wanted] * len(stubs) or time.monotonic() > deadline:
            return answers
        time.sleep(POLL_SECONDS / 2)


def test_serve_grpc_unload_and_load_reach_every_worker(serve_env: dict[str, str], tmp_path: Path):
    grpc_port = free_port()
    key = [("x-api-key", "workers-key-0123456789")]
    env = {
        **serve_env,
        "SERVE_GRPC_PORT": str(grpc_port),
        "SERVE_WORKERS": "2",
        "SERVE_API_KEY": key[0][1],
        "SERVE_REPOSITORY_POLL_SECONDS": str(POLL_SECONDS),
    }
    with serve_process(env, tmp_path / "serve.log", start_timeout=START_TIMEOUT) as (process, _):
        workers = _two_workers_listening(process, grpc_port)
        with _connections(grpc_port, 16) as stubs:
            before = _readiness_everywhere(stubs, key, True)
            assert _holders(workers, _sockets(grpc_port, "01")) == set(workers)  # both workers are asked
            stubs[0].RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="mnist"), metadata=key)
            unloaded = _readiness_everywhere(stubs, key, False)
            stubs[0].RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="mnist"), metadata=key)
            loaded = _readiness_everywhere(stubs, key, True)

    assert before == [True] * 16
    assert unloaded == [False] * 16
    assert loaded == [True] * 16


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_refuses_a_grpc_port_in_use(serve_env: dict[str, str], tmp_path: Path, workers: str):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {**serve_env, "SERVE_GRPC_PORT": str(port), "SERVE_WORKERS": workers, "SERVE_DEVICE": "cpu"}
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", "--port", str(free_port())],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert result.returncode != 0
    assert f"gRPC port 127.0.0.1:{port} is in use" in result.stderr
