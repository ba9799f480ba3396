"""`serve` with gRPC as a real process: SIGTERM lets calls in flight finish; workers share the port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from live_server import free_port, serve_process
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

GRACEFUL_TIMEOUT_SECONDS = 5


def _mnist_request() -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="mnist", raw_input_contents=[bytes(784)])
    request.inputs.add(name="pixels", datatype="UINT8", shape=[1, 784])
    return request


def _listening_sockets(port: int) -> int:
    """How many sockets listen on ``port``: one per worker with SO_REUSEPORT (gRPC binds IPv6 sockets)."""
    listening = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            listening += fields[1].endswith(f":{port:04X}") and fields[3] == "0A"  # 0A: LISTEN
    return listening


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


def test_serve_two_workers_share_the_grpc_port(serve_env: dict[str, str], tmp_path: Path):
    grpc_port = free_port()
    env = {**serve_env, "SERVE_GRPC_PORT": str(grpc_port), "SERVE_WORKERS": "2"}
    with serve_process(env, tmp_path / "serve.log"):
        deadline = time.monotonic() + 120
        while _listening_sockets(grpc_port) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # the second worker may still be loading
        listening = _listening_sockets(grpc_port)
        answers = []
        for _ in range(8):  # a fresh connection each: the kernel spreads them over the workers
            with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
                stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
                answers.append(stub.ModelInfer(_mnist_request(), timeout=30).model_name)

    assert listening == 2
    assert answers == ["mnist"] * 8


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
