"""Hundreds of slow clients against the real `serve` command, while ordinary clients are answered.

Marked ``load``: `.ci/run` runs these (make test-load); `make test` leaves them out.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from live_server import serve_process

pytestmark = pytest.mark.load

SLOW_HEADERS = 250
SLOW_BODIES = 250
HOLD_SECONDS = 6.0


async def _slow_headers(port: int) -> asyncio.StreamReader:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health/ready HTTP/1.1\r\nHost: x\r\n")
    return reader, writer


async def _slow_body(port: int) -> asyncio.StreamReader:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /predict/logistic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n{"
    )
    return reader, writer


async def _trickle(writer: asyncio.StreamWriter, byte: bytes, until: float) -> None:
    while time.monotonic() < until and not writer.is_closing():
        try:
            writer.write(byte)
            await writer.drain()
        except OSError:
            return
        await asyncio.sleep(0.5)


async def _ordinary(port: int, request: bytes) -> tuple[int, float]:
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    return int(head.split(b" ", 2)[1]), time.monotonic() - started


READY = b"GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
_FEATURES = json.dumps({"features": [4.0, 3.0]}).encode()
PREDICT = (
    b"POST /predict/logistic HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(_FEATURES), _FEATURES)
)


async def _siege(port: int) -> tuple[list[tuple[int, float]], list[bytes]]:
    until = time.monotonic() + HOLD_SECONDS
    slow = await asyncio.gather(
        *[_slow_headers(port) for _ in range(SLOW_HEADERS)], *[_slow_body(port) for _ in range(SLOW_BODIES)]
    )
    trickles = [
        asyncio.create_task(_trickle(w, b"X" if i < SLOW_HEADERS else b" ", until))
        for i, (_, w) in enumerate(slow)
    ]
    answers = []
    while time.monotonic() < until:
        answers += await asyncio.gather(_ordinary(port, READY), _ordinary(port, PREDICT))
        await asyncio.sleep(0.2)
    await asyncio.gather(*trickles)
    # Past the timeouts (5 s for headers, 5 s for a body's pace), every slow client has been answered.
    ends = await asyncio.gather(*[asyncio.wait_for(r.read(), 30) for r, _ in slow])
    for _, writer in slow:
        writer.close()
    return answers, ends


def test_slow_clients_do_not_keep_ordinary_clients_waiting(serve_env, tmp_path):
    env = {
        **serve_env,
        "SERVE_ACCESS_LOG": "false",
        "SERVE_HEADER_TIMEOUT_SECONDS": "5",
        "SERVE_BODY_TIMEOUT_SECONDS": "5",
    }
    with serve_process(env, tmp_path / "serve.log") as (_, port):
        answers, ends = asyncio.run(_siege(port))
    assert len(answers) > 20
    assert {status for status, _ in answers} == {200}
    assert max(seconds for _, seconds in answers) < 1.0
    statuses = [int(end.split(b" ", 2)[1]) if end else None for end in ends]
    assert statuses == [408] * (SLOW_HEADERS + SLOW_BODIES)
