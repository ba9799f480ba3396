"""Running predictions: directly, or micro-batched so concurrent requests share one forward pass.

The data plane awaits ``runner(servable, batch)`` and gets one result per input row, whichever runner it
is. ``DirectRunner`` calls ``servable.infer`` inline: the model ops take microseconds, so a thread hop
would cost more than it saves. ``MicroBatcher`` queues the inputs with a future, and one collector task
per model takes up to ``max_size`` rows (or whatever arrived within ``max_wait_ms``), runs them as one
batch and hands each request its own rows back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from app.core.servables import Servable

log = logging.getLogger(__name__)


def _rows(columns: tuple[list, ...], start: int, stop: int) -> tuple[list, ...]:
    return tuple(column[start:stop] for column in columns)


def _concat(parts: Sequence[Any]) -> Any:
    """Input rows of several requests as one batch: tensors are concatenated, lists chained."""
    if isinstance(parts[0], torch.Tensor):
        return torch.cat(list(parts))
    return [row for part in parts for row in part]


class DirectRunner:
    """No batching: each request runs its own forward pass, inline on the event loop."""

    async def __call__(self, servable: Servable, inputs: Any) -> tuple[list, ...]:
        return servable.infer(inputs)

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


@dataclass
class _Pending:
    servable: Servable
    inputs: Any
    future: asyncio.Future = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.inputs)


class MicroBatcher:
    """Collects concurrent requests for one model into batches of at most ``max_size`` rows.

    A request larger than ``max_size`` runs alone. Requests served by different servables (versions, or a
    swap in between) never share a batch. If a shared batch fails, each request reruns on its own, so an error
    reaches only the request that caused it.
    """

    def __init__(self, *, max_size: int, max_wait_ms: float) -> None:
        self.max_size, self.max_wait_s = max_size, max_wait_ms / 1000
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._collector: asyncio.Task | None = None
        self._carry: _Pending | None = None  # taken from the queue but did not fit the last batch

    async def __call__(self, servable: Servable, inputs: Any) -> tuple[list, ...]:
        if self._collector is None:
            raise RuntimeError("the batcher is not running; start() it in the app's lifespan")
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(servable, inputs, future))
        return await future

    def start(self) -> None:
        """Start collecting; called on the event loop."""
        self._collector = asyncio.create_task(self._collect_forever(), name="micro-batcher")

    async def stop(self) -> None:
        if self._collector is None:
            return
        self._collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._collector
        self._collector = None
        stranded = [self._carry] if self._carry else []
        while not self._queue.empty():
            stranded.append(self._queue.get_nowait())
        for pending in stranded:
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("the service is shutting down"))
        self._carry = None

    async def _collect_forever(self) -> None:
        while True:
            batch = await self._next_batch()
            self._run(batch)

    async def _next_batch(self) -> list[_Pending]:
        first = self._carry or await self._queue.get()
        self._carry = None
        batch, rows = [first], first.size
        deadline = asyncio.get_running_loop().time() + self.max_wait_s
        while rows < self.max_size:
            try:
                if self._queue.empty():
                    timeout = deadline - asyncio.get_running_loop().time()
                    if timeout <= 0:
                        break
                    pending = await asyncio.wait_for(self._queue.get(), timeout)
                else:
                    pending = self._queue.get_nowait()
            except asyncio.TimeoutError:
                break
            if pending.servable is not first.servable or rows + pending.size > self.max_size:
                self._carry = pending
                break
            batch.append(pending)
            rows += pending.size
        return batch

    def _run(self, batch: list[_Pending]) -> None:
        live = [p for p in batch if not p.future.done()]  # a cancelled request needs no answer
        if not live:
            return
        try:
            columns = live[0].servable.infer(_concat([p.inputs for p in live]))
        except Exception as exc:
            if len(live) == 1:
                live[0].future.set_exception(exc)
                return
            for pending in live:  # find the culprit: each request alone, each gets its own outcome
                _settle(pending)
            return
        start = 0
        for pending in live:
            pending.future.set_result(_rows(columns, start, start + pending.size))
            start += pending.size


def _settle(pending: _Pending) -> None:
    try:
        pending.future.set_result(pending.servable.infer(pending.inputs))
    except Exception as exc:
        pending.future.set_exception(exc)


Runner = DirectRunner | MicroBatcher


def make_runner(*, batching: bool, max_size: int, max_wait_ms: float) -> Runner:
    if batching:
        return MicroBatcher(max_size=max_size, max_wait_ms=max_wait_ms)
    return DirectRunner()
