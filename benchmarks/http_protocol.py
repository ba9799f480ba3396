"""What the connection limits (app/http_protocol.py) cost a request, beside uvicorn's own protocol.

    python -m benchmarks.http_protocol [--requests 20000] [--rounds 5]

Both protocols parse the same keep-alive requests in-process, from a fake socket, into an ASGI app that
answers at once: the protocol's share of a request, nothing else. Rounds alternate between the two, so a
busy neighbour slows both alike; each is timed in CPU seconds; the ratio is the rounds' median.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.http_protocol import ConnectionLimits, GuardedHttpToolsProtocol
from app.settings import Settings

REQUESTS = {
    "GET /health/live": b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\n\r\n",
    "POST 40-byte JSON": b"POST /predict/logistic HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
    b'application/json\r\nContent-Length: 40\r\n\r\n{"features": [4.0, 3.0], "pad": "....."}',
}


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True


async def _app(scope, receive, send) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


class _Guarded(GuardedHttpToolsProtocol):
    limits = ConnectionLimits.from_settings(Settings())


async def _seconds_per_request(protocol_class: type, request: bytes, count: int) -> float:
    config = Config(app=_app, log_level="warning", access_log=False)
    config.load()
    state = ServerState()
    protocol = protocol_class(config=config, server_state=state, app_state={})
    protocol.connection_made(_Transport())
    started = time.process_time()
    for _ in range(count):
        protocol.data_received(request)
        while state.tasks:
            await asyncio.sleep(0)
    elapsed = time.process_time() - started
    protocol.connection_lost(None)
    return elapsed / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--only",
        choices=["uvicorn", "limits"],
        help="run one protocol once on the first request, printing nothing: for counting its instructions "
        "under valgrind at two --requests counts",
    )
    args = parser.parse_args()
    if args.only:
        protocol = HttpToolsProtocol if args.only == "uvicorn" else _Guarded
        asyncio.run(_seconds_per_request(protocol, next(iter(REQUESTS.values())), args.requests))
        return
    for name, request in REQUESTS.items():
        stock, guarded, ratios = [], [], []
        for _ in range(args.rounds):
            stock.append(asyncio.run(_seconds_per_request(HttpToolsProtocol, request, args.requests)))
            guarded.append(asyncio.run(_seconds_per_request(_Guarded, request, args.requests)))
            ratios.append(guarded[-1] / stock[-1])
        print(
            f"{name:<18} uvicorn {statistics.median(stock) * 1e6:6.1f} us, with limits "
            f"{statistics.median(guarded) * 1e6:6.1f} us per request: {statistics.median(ratios):.3f}x "
            f"(rounds {min(ratios):.3f}..{max(ratios):.3f})"
        )


if __name__ == "__main__":
    main()
