"""How fast /health/live answers while the server is under hostile load: the target is 100 ms throughout.

    python -m benchmarks.liveness [--seconds 8] [--only json,png]

One `serve` worker, its event loop watched (benchmarks/loop_monitor.py). For each load, a separate
process probes GET /health/live ten times a second on fresh connections; the table gives the probes'
median, 99th percentile and worst answer time beside the target, and the worst and 99th-percentile
*stall* of the server's loop: how long it went without turning, counted in the CPU time the server
itself used, which a busy neighbour on a shared machine cannot inflate (the wall-clock lag and the
longest garbage collection are printed too). Loads, each from 8 connections back to back unless said:

* ``json``: full batches of 64 pixel images, long numbers, just under the 1 MiB JSON body limit;
* ``batch``: 1 MiB logistic batches of 130,000 instances, refused before parsing;
* ``strings``: 1 MiB of strings as one instance's features: every one is an invalid value;
* ``oip``: the Open Inference Protocol's full batch of 64 pixel images as JSON data, under 1 MiB;
* ``oip-batch``: OIP logistic tensors declaring 130,000 rows, in 1 MiB, refused before parsing;
* ``png``: uploads of 64 PNGs, each full of compressed text chunks;
* ``photo``: uploads of a 12-megapixel JPEG photo;
* ``slow``: 500 connections sending their headers or bodies a byte every half second.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import socket
import statistics
import struct
import sys
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from PIL import Image, ImageDraw

from benchmarks.fixtures import BOUNDARY, digit_png, write_fixtures
from benchmarks.processes import free_port, running_server

TARGET_MS = 100.0
PROBE_TIMEOUT = 30.0  # seconds; a probe that waits this long counts as this long
JSON_LIMIT = 1024 * 1024  # the default JSON body limit (SERVE_MAX_JSON_BYTES)
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


def _photo() -> bytes:
    """A 12-megapixel JPEG: a dark digit on grey paper, with sensor noise."""
    image = Image.effect_noise((4000, 3000), 12).point(lambda v: v + 110)
    ImageDraw.Draw(image).line([(2000, 700), (2000, 2300)], fill=20, width=220)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _multipart(files: list[bytes], kind: str) -> bytes:
    parts = io.BytesIO()
    for index, data in enumerate(files):
        disposition = f'form-data; name="file"; filename="{index}.{kind}"'
        parts.write(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode())
        parts.write(data + b"\r\n")
    parts.write(f"--{BOUNDARY}--\r\n".encode())
    return parts.getvalue()


def _full_pixel_batch() -> list[list[float]]:
    """64 images of 784 values, each number as long as fits the JSON body limit."""
    rng = random.Random(0)
    return [[round(rng.uniform(0, 255), 12) for _ in range(784)] for _ in range(64)]


def _requests() -> dict[str, bytes]:
    pixels = json.dumps({"instances": _full_pixel_batch()}).encode()
    batch = json.dumps({"instances": [[1, 2]] * 150_000}).encode()
    batch = batch[: batch.rindex(b"]", 0, JSON_LIMIT - 8)] + b"]]}"
    strings = b'{"features": [' + b", ".join([b'"a"'] * ((JSON_LIMIT - 64) // 5)) + b"]}"
    tensor = {"name": "pixels", "shape": [64, 784], "datatype": "FP32", "data": _full_pixel_batch()}
    oip = json.dumps({"inputs": [tensor]}).encode()
    rows = json.dumps([[1, 2]] * 150_000).encode()
    rows = rows[: rows.rindex(b"]", 0, JSON_LIMIT - 200)] + b"]]"
    head = b'{"inputs": [{"name": "features", "shape": [130000, 2], "datatype": "FP32", "data": '
    oip_batch = head + rows + b"}]}"
    multipart = f"multipart/form-data; boundary={BOUNDARY}"
    requests = {
        "json": _post("/predict/mnist/pixels", pixels, "application/json"),
        "batch": _post("/predict/logistic", batch, "application/json"),
        "strings": _post("/predict/logistic", strings, "application/json"),
        "oip": _post("/v2/models/mnist/infer", oip, "application/json"),
        "oip-batch": _post("/v2/models/logistic/infer", oip_batch, "application/json"),
        "png": _post("/predict/mnist", _multipart([_texty_png()] * 64, "png"), multipart),
        "photo": _post("/predict/mnist", _multipart([_photo()], "jpg"), multipart),
    }
    for name, body in (("json", pixels), ("batch", batch), ("strings", strings), ("oip", oip)):
        assert len(body) <= JSON_LIMIT, f"{name}: {len(body)} bytes"
    assert len(oip_batch) <= JSON_LIMIT
    return requests


async def _exchange(port: int, request: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await reader.read()  # every load request is answered, then closed (or refused and closed)
    writer.close()


async def _hammer(port: int, request: bytes, until: float) -> None:
    request = request.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1)
    while time.monotonic() < until:
        try:
            await _exchange(port, request)
        except OSError:  # a refused upload may be closed before all of it was sent
            await asyncio.sleep(0.01)


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


def _probe(port: int, until: float) -> list[float]:
    """Answer times of /health/live until ``until``: run in a process of its own, so that the load's
    own event loop in this one never delays a probe."""
    times = []
    while not times or time.monotonic() < until:  # one probe at least, however late the server answers
        started = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT) as connection:
                connection.sendall(_PROBE)
                while connection.recv(65536):
                    pass
        except TimeoutError:  # counted as the timeout: the answer took at least that long
            pass
        times.append(time.perf_counter() - started)
        time.sleep(0.1)
    return times


def _loop_report(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_loop", timeout=300) as response:
        return json.load(response)


async def _measure(
    port: int, seconds: float, load: Callable[[float], list[Awaitable]], prober: ProcessPoolExecutor
) -> tuple[list[float], dict]:
    until = time.monotonic() + seconds
    loads = [asyncio.ensure_future(task) for task in load(until)]
    await asyncio.sleep(0.5)  # let the load start
    restart = asyncio.ensure_future(asyncio.to_thread(_loop_report, port))  # the watch starts over
    times = await asyncio.get_running_loop().run_in_executor(prober, _probe, port, until)
    await restart
    loop = await asyncio.to_thread(_loop_report, port)
    await asyncio.gather(*loads, return_exceptions=True)
    return times, loop


def _row(name: str, times: list[float], loop: dict) -> str:
    cut = sorted(times)
    p99, worst = cut[min(len(cut) - 1, int(len(cut) * 0.99))] * 1e3, cut[-1] * 1e3
    verdict = "yes" if worst <= TARGET_MS else "NO"
    return (
        f"{name:<10} {len(times):>6} {statistics.median(times) * 1e3:7.1f} {p99:7.1f} {worst:7.1f} "
        f"{verdict:>5} {loop['stall']['p99_ms']:7.1f} {loop['stall']['max_ms']:7.1f} "
        f"{loop['lag']['max_ms']:7.1f} {loop['gc_max_ms']:7.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per load (default: %(default)s)")
    parser.add_argument("--only", default="", help="comma-separated loads to run (default: all)")
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
    chosen = {"idle", *args.only.split(",")} if args.only else set(loads)
    with tempfile.TemporaryDirectory(prefix="liveness-") as tmp:
        fixtures = write_fixtures(Path(tmp))
        port = free_port()
        env = {**os.environ, **fixtures.env, "SERVE_DEVICE": "cpu"}  # every production default else
        argv = [sys.executable, "-m", "benchmarks.loop_monitor", "--port", str(port)]
        with (
            running_server(argv, port, env=env),
            ProcessPoolExecutor(1, mp_context=get_context("spawn")) as prober,
        ):
            prober.submit(time.sleep, 0).result()  # the prober's process started before any timing
            print(f"/health/live answer times (ms) under each load; target {TARGET_MS:.0f} ms throughout.")
            print("The server's loop: stall = longest time without a turn, in its own CPU time (ms).")
            print(
                f"{'load':<10} {'probes':>6} {'p50':>7} {'p99':>7} {'worst':>7} {'<100?':>5} "
                f"{'stall99':>7} {'stall':>7} {'lag':>7} {'gc':>7}"
            )
            for name, load in loads.items():
                if name not in chosen:
                    continue
                times, loop = asyncio.run(
                    _measure(port, args.seconds, lambda until, load=load: load(port, until), prober)
                )
                print(_row(name, times, loop), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
