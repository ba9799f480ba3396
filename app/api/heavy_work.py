"""Taking turns at CPU-heavy request work, so that a probe is never queued behind all of it at once.

Parsing a JSON body of a megabyte takes tens of milliseconds on the event loop, holding the GIL throughout
(pydantic-core and json do not release it, so a thread would not help). Eight such requests arriving
together used to run back to back in one turn of the loop, and /health/live waited for all eight. Here
a large body's parse first takes the one slot and yields: the others wait for the slot, not in the
loop's ready queue, so whatever else is ready (a probe, a small prediction) runs between two parses.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from starlette.requests import Request

HEAVY_BODY_BYTES = 64 * 1024  # a full batch of logistic instances is 1 KiB; 64 pixel images, 300 KiB


def turn_for(request: Request, body_bytes: int) -> AbstractAsyncContextManager[None]:
    """Hold the app's heavy-work slot for a body of ``body_bytes`` or more; a small one goes straight
    (through a shared no-op context: a generator-based one would cost a small prediction 4 %)."""
    if body_bytes < HEAVY_BODY_BYTES:
        return _STRAIGHT
    return _taking_turn(request.app.state.heavy_work)


_STRAIGHT = nullcontext()


@asynccontextmanager
async def _taking_turn(slot: asyncio.Semaphore) -> AsyncIterator[None]:
    async with slot:
        await asyncio.sleep(0)  # one turn of the loop for everything already waiting
        yield
