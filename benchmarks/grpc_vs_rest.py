"""gRPC ModelInfer against REST /v2/models/mnist/infer and /predict/mnist/pixels, on the same MNIST batches.

    python -m benchmarks.grpc_vs_rest [--data-root ../shared/data] [--rounds 3] [--seconds 3]

One `serve` process, one worker, REST and gRPC both on. Each round sends each batch (1 image, and 64
images) through each route for a few seconds, one after another, and every figure is the median over the
rounds with its range; ratios are taken within a round, so the shared machine's noise mostly cancels.

    grpc raw      ModelInfer, pixels UINT8 [N, 784] in raw_input_contents, raw outputs back
    v2 binary     POST /v2/models/mnist/infer, the same UINT8 bytes after a JSON header (binary extension)
    pixels JSON   POST /predict/mnist/pixels, {"instances": [[784 ints], ...]}

The load generator is this script: one asyncio loop, CONCURRENCY calls in flight, over 4 gRPC channels or
one keep-alive HTTP/1.1 connection per call in flight. Every body is built once, before the clock runs;
gRPC calls send pre-serialized bytes (no protobuf work), HTTP calls write pre-built request bytes and read
the answer by its Content-Length. What that still costs the client is printed, in CPU ms per call: the
client shares the machine's cores with the server, so a dearer client would lower the server's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from tritonclient.grpc import service_pb2 as pb

from benchmarks.processes import ROOT, cpu_seconds, free_port, running_server

CONCURRENCY = 8
GRPC_CHANNELS = 4
BATCHES = (1, 64)
ROUTES = ("grpc raw", "v2 binary", "pixels JSON")
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"


def mnist_images(data_root: Path, count: int) -> list[bytes]:
    """The first ``count`` MNIST test images, 784 bytes each (the idx file: a 16-byte header, then pixels)."""
    path = data_root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    if not path.exists():
        sys.exit(f"no MNIST test images at {path}: pass --data-root (the folder holding MNIST/raw)")
    raw = path.read_bytes()
    _, images, rows, cols = struct.unpack(">IIII", raw[:16])
    if (rows, cols) != (28, 28) or images < count:
        sys.exit(f"{path} does not hold {count} images of 28x28")
    return [raw[16 + i * 784 : 16 + (i + 1) * 784] for i in range(count)]


def grpc_body(images: list[bytes]) -> bytes:
    request = pb.ModelInferRequest(model_name="mnist", raw_input_contents=[b"".join(images)])
    request.inputs.add(name="pixels", datatype="UINT8", shape=[len(images), 784])
    return request.SerializeToString()


def http_request(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def v2_request(port: int, images: list[bytes]) -> bytes:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "pixels",
                    "shape": [len(images), 784],
                    "datatype": "UINT8",
                    "parameters": {"binary_data_size": 784 * len(images)},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }
    return http_request(port, "/v2/models/mnist/infer", header + b"".join(images), headers)


def pixels_request(port: int, images: list[bytes]) -> bytes:
    body = json.dumps({"instances": [list(image) for image in images]}).encode()
    return http_request(port, "/predict/mnist/pixels", body, {"Content-Type": "application/json"})


Call = Callable[[], Awaitable[None]]


async def grpc_callers(address: str, body: bytes) -> tuple[list[Call], Callable[[], Awaitable[None]]]:
    channels = [grpc.aio.insecure_channel(address) for _ in range(GRPC_CHANNELS)]
    methods = [channel.unary_unary(MODEL_INFER) for channel in channels]  # bytes in, bytes out

    def caller(method) -> Call:
        async def call() -> None:
            await method(body)

        return call

    async def close() -> None:
        for channel in channels:
            await channel.close()

    return [caller(methods[i % GRPC_CHANNELS]) for i in range(CONCURRENCY)], close


async def http_callers(port: int, request: bytes) -> tuple[list[Call], Callable[[], Awaitable[None]]]:
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(CONCURRENCY)]

    def caller(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Call:
        async def call() -> None:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
            lines = head.lower().split(b"\r\n")
            length = next(int(line[15:]) for line in lines if line.startswith(b"content-length:"))
            await reader.readexactly(length)

        return call

    async def close() -> None:
        for _, writer in connections:
            writer.close()

    return [caller(*connection) for connection in connections], close


@dataclass(frozen=True)
class Cell:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    client_cpu_ms: float  # per call
    server_cpu_ms: float  # per call

    def images_per_s(self, batch: int) -> float:
        return self.requests * batch / self.seconds


async def measure(calls: list[Call], seconds: float, server_pid: int) -> Cell:
    for call in calls:  # warm every connection up, untimed
        await call()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop(call: Call) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    client_before, server_before, started = time.process_time(), cpu_seconds(server_pid), time.perf_counter()
    await asyncio.gather(*(loop(call) for call in calls))
    elapsed = time.perf_counter() - started
    client_cpu, server_cpu = time.process_time() - client_before, cpu_seconds(server_pid) - server_before
    cuts = statistics.quantiles(latencies, n=100)
    count = len(latencies)
    return Cell(
        count, elapsed, cuts[49] * 1e3, cuts[98] * 1e3, client_cpu / count * 1e3, server_cpu / count * 1e3
    )


async def run_round(http_port: int, grpc_port: int, images: list[bytes], seconds: float, pid: int) -> dict:
    cells = {}
    for batch in BATCHES:
        chosen = images[:batch]
        for route in ROUTES:
            if route == "grpc raw":
                calls, close = await grpc_callers(f"127.0.0.1:{grpc_port}", grpc_body(chosen))
            elif route == "v2 binary":
                calls, close = await http_callers(http_port, v2_request(http_port, chosen))
            else:
                calls, close = await http_callers(http_port, pixels_request(http_port, chosen))
            try:
                cells[(route, batch)] = await measure(calls, seconds, pid)
            finally:
                await close()
    return cells


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})"


def report(rounds: list[dict]) -> None:
    print(f"\nmedian (range) over {len(rounds)} rounds; {CONCURRENCY} calls in flight; one worker")
    header = f"{'route':12} {'batch':>5} {'req/s':>22} {'images/s':>22} {'p50 ms':>8} {'p99 ms':>8}"
    print(header + f" {'server CPU ms/call':>19} {'client CPU ms/call':>19}")
    for batch in BATCHES:
        for route in ROUTES:
            cells = [r[(route, batch)] for r in rounds]
            print(
                f"{route:12} {batch:5d} {_median([c.requests / c.seconds for c in cells]):>22} "
                f"{_median([c.images_per_s(batch) for c in cells]):>22} "
                f"{statistics.median(c.p50_ms for c in cells):8.2f} "
                f"{statistics.median(c.p99_ms for c in cells):8.2f} "
                f"{statistics.median(c.server_cpu_ms for c in cells):19.3f} "
                f"{statistics.median(c.client_cpu_ms for c in cells):19.3f}"
            )
    for batch in BATCHES:
        for peer in ROUTES[1:]:
            ratios = [
                r[("grpc raw", batch)].images_per_s(batch) / r[(peer, batch)].images_per_s(batch)
                for r in rounds
            ]
            print(f"images/s, grpc raw / {peer}, {batch} images: {_median(ratios).strip()}")
    ratio = statistics.median(
        r[("grpc raw", 64)].images_per_s(64) / r[("pixels JSON", 64)].images_per_s(64) for r in rounds
    )
    print(f"target: grpc raw >= 2x pixels JSON images/s at 64 images: {'met' if ratio >= 2 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-root", type=Path, default=ROOT.parent / "shared" / "data", help="holds MNIST/raw"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every cell (default: %(default)s)")
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="per cell and round (default: %(default)s)"
    )
    args = parser.parse_args()
    images = mnist_images(args.data_root, max(BATCHES))
    http_port, grpc_port = free_port(), free_port()
    env = {**os.environ, "SERVE_GRPC_PORT": str(grpc_port), "SERVE_DEVICE": "cpu", "SERVE_WORKERS": "1"}
    argv = [sys.executable, "-m", "app.cli", "--port", str(http_port)]
    with running_server(argv, http_port, env=env) as pid:
        rounds = []
        for number in range(args.rounds):
            rounds.append(asyncio.run(run_round(http_port, grpc_port, images, args.seconds, pid)))
            print(f"round {number + 1}/{args.rounds} done", flush=True)
    report(rounds)


if __name__ == "__main__":
    main()
