"""How fast /health/live answers while the server is under hostile load: the target is 100 ms throughout.

    python -m benchmarks.liveness [--seconds 8]

One `serve` worker; for each load, probes GET /health/live ten times a second on fresh connections and
prints the median, 99th percentile and worst answer time, beside the same probes on the idle server
(measured in the same run: a shared machine moves every figure, the comparison stays fair). Loads:

* ``json``: 8 connections posting 1 MiB bodies of pixel arrays (the JSON body limit), back to back;
* ``batch``: 8 connections posting 1 MiB logistic batches of 150,000 instances, refused before parsing;
* ``png``: 8 connections uploading 64 PNGs each full of compressed text chunks;
* ``slow``: 500 connections sending their headers or bodies a byte at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks.fixtures import BOUNDARY, digit_png, write_fixtures
from benchmarks.processes import free_port, running_server, server_argv

_PROBE = b"GET /health/live HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


def _post(path: str, body: bytes, content_type: str) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {content_type}\r\n"
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _texty_png() -> bytes:
    png = digit_png()
    text = _chunk(b"zTXt", b"k\x00\x00" + zlib.compress(b"a" * 8_000_000))
    return png[:33] + text * 3 + png[33:]


def _requests() -> dict[str, bytes]:
    pixels = json.dumps({"instances": [[254.5] * 784] * 120}).encode()[: 1024 * 1024]
    pixels = pixels[: pixels.rindex(b"]", 0, len(pixels) - 3)] + b"]]}"
    batch = json.dumps({"instances": [[1, 2]] * 150_000}).encode()
    batch = batch[: batch.rindex(b"]", 0, 1024 * 1024 - 8)] + b"]]}"
    parts = io.BytesIO()
    for index in range(64):
        disposition = f'form-data; name="file"; filename="{index}.png"'
        parts.write(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode())
        parts.write(_texty_png() + b"\r\n")
    parts.write(f"--{BOUNDARY}--\r\n".encode())
    return {
        "json": _post("/predict/mnist/pixels", pixels, "application/json"),
        "batch": _post("/predict/logistic", batch, "application/json"),
        "png": _post("/predict/mnist", parts.getvalue(), f"multipart/form-data; boundary={BOUNDARY}"),
    }


async def _exchange(port: int, request: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await reader.read()  # every load request is answered, then closed (or refused and closed)
    writer.close()


async def _hammer(port: int, request: bytes, until: float) -> None:
    request = request.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1)
    while time.monotonic() < until:
        await _exchange(port, request)


async def _slow(port: int, until: float, index: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if index % 2:
        writer.write(b"POST /predict/logistic HTTP/1.1\r\nHost: b\r\nContent-Length: 9999\r\n\r\n")
    else:
        writer.write(b"GET /health/live HTTP/1.1\r\n")
    while time.monotonic() < until and not reader.at_eof():
        try:
            writer.write(b" " if index % 2 else b"X")
            await writer.drain()
        except OSError:
            break
        await asyncio.sleep(0.5)
    writer.close()


async def _probe(port: int, until: float) -> list[float]:
    times = []
    while time.monotonic() < until:
        started = time.perf_counter()
        await _exchange(port, _PROBE)
        times.append(time.perf_counter() - started)
        await asyncio.sleep(0.1)
    return times


async def _measure(port: int, seconds: float, load: Callable[[float], list[Awaitable]]) -> list[float]:
    until = time.monotonic() + seconds
    loads = [asyncio.ensure_future(task) for task in load(until)]
    await asyncio.sleep(0.5)  # let the load start
    times = await _probe(port, until)
    await asyncio.gather(*loads, return_exceptions=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    requests = _requests()
    loads: dict[str, Callable[[int, float], list[Awaitable]]] = {
        "idle": lambda port, until: [],
        **{
            name: (lambda request: lambda port, until: [_hammer(port, request, until) for _ in range(8)])(
                body
            )
            for name, body in requests.items()
        },
        "slow": lambda port, until: [_slow(port, until, i) for i in range(500)],
    }
    with tempfile.TemporaryDirectory(prefix="liveness-") as tmp:
        fixtures = write_fixtures(Path(tmp))
        port = free_port()
        env = {**os.environ, **fixtures.env, "SERVE_DEVICE": "cpu", "SERVE_ACCESS_LOG": "false"}
        with running_server(server_argv("ours", port), port, env=env):
            print(f"{'load':<6} {'probes':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
            for name, load in loads.items():
                times = asyncio.run(_measure(port, args.seconds, lambda until, load=load: load(port, until)))
                cut = sorted(times)
                p99 = cut[min(len(cut) - 1, int(len(cut) * 0.99))]
                print(
                    f"{name:<6} {len(times):>6} {statistics.median(times) * 1e3:8.1f} {p99 * 1e3:8.1f} "
                    f"{max(times) * 1e3:8.1f}",
                    flush=True,
                )
    sys.exit(0)


if __name__ == "__main__":
    main()
