"""The models this process serves, each with its own health, swappable one at a time."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import torch
from anyio import to_thread

import models
from app.observability.metrics import record_model_loaded
from models import Checkpoint, CheckpointError

log = logging.getLogger(__name__)


class ModelState(str, Enum):
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"


class UnknownModelError(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown model {name!r}; available: {', '.join(known)}")


class ModelUnavailableError(RuntimeError):
    """A request for a model that is not serving; the message is its slot's ``why_not_serving``."""


@dataclass(frozen=True)
class ModelSpec:
    """What to serve under a name: the architecture it must be and where its checkpoint lies."""

    name: str
    architecture: str
    checkpoint_path: Path
    description: str


@dataclass
class ModelSlot:
    spec: ModelSpec
    checkpoint: Checkpoint | None = None  # what serves now
    reason: str | None = None  # why the last load failed, while nothing serves
    load_seconds: float | None = None
    # Serialises reloads of this model, so two of them cannot interleave their load and swap.
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def state(self) -> ModelState:
        if self.checkpoint is not None:
            return ModelState.READY
        return ModelState.FAILED if self.reason is not None else ModelState.STARTING

    @property
    def why_not_serving(self) -> str | None:
        """One sentence for readiness and for 503s; None while the model serves."""
        if self.checkpoint is not None:
            return None
        if self.state is ModelState.FAILED:
            return f"model {self.spec.name!r} failed to load: {self.reason}"
        return f"model {self.spec.name!r} is still loading"


@dataclass(frozen=True)
class Reloaded:
    checkpoint: Checkpoint
    previous: Checkpoint | None
    load_seconds: float


class ModelRegistry:
    """Holds one slot per served model. A failed model leaves the others serving.

    Readers take ``slot.checkpoint`` once per request and keep that object, so a swap (a single
    attribute assignment) never changes the model under a request already running.
    """

    def __init__(self, specs: list[ModelSpec]) -> None:
        self.device = torch.device("cpu")
        self.slots = {spec.name: ModelSlot(spec) for spec in specs}

    @property
    def names(self) -> list[str]:
        return list(self.slots)

    def slot(self, name: str) -> ModelSlot:
        try:
            return self.slots[name]
        except KeyError:
            raise UnknownModelError(name, self.names) from None

    def load_all(self, device: torch.device) -> None:
        """Load every configured checkpoint onto ``device``; a failure marks that model failed, no more."""
        self.device = device
        for slot in self.slots.values():
            started = time.perf_counter()
            try:
                checkpoint = self.load_checkpoint(slot.spec.name)
            except CheckpointError as exc:
                slot.reason = str(exc)
                log.error("model %s failed to load: %s", slot.spec.name, exc)
            else:
                self.swap(slot.spec.name, checkpoint, load_seconds=time.perf_counter() - started)

    def load_checkpoint(self, name: str, path: Path | None = None) -> Checkpoint:
        """Read a checkpoint for ``name`` (its configured path by default) without serving it yet."""
        spec = self.slot(name).spec
        checkpoint = models.load(
            path or spec.checkpoint_path, device=self.device, architecture=spec.architecture
        )
        log.info(
            "loaded model %s version %s from %s on %s", name, checkpoint.version, checkpoint.path, self.device
        )
        return checkpoint

    async def reload(self, name: str, path: Path | None = None) -> Reloaded:
        """Load a checkpoint for ``name`` off the event loop, then swap it in.

        A bad checkpoint raises its CheckpointError before the swap, so the old model keeps serving.
        """
        slot = self.slot(name)
        async with slot.reload_lock:
            started = time.perf_counter()
            checkpoint = await to_thread.run_sync(self.load_checkpoint, name, path)
            reloaded = Reloaded(checkpoint, slot.checkpoint, time.perf_counter() - started)
            self.swap(name, checkpoint, load_seconds=reloaded.load_seconds)
        return reloaded

    def swap(self, name: str, checkpoint: Checkpoint, load_seconds: float | None = None) -> None:
        """The one place a served model changes: start-up and reloads both come through here."""
        slot = self.slot(name)
        record_model_loaded(name, checkpoint, slot.checkpoint, load_seconds)
        slot.checkpoint, slot.reason = checkpoint, None
        slot.load_seconds = load_seconds

    def get(self, name: str) -> Checkpoint:
        """The checkpoint serving ``name`` now; raises when the name is unknown or the model not ready."""
        slot = self.slot(name)
        if slot.checkpoint is None:
            raise ModelUnavailableError(slot.why_not_serving)
        return slot.checkpoint

    @property
    def ready(self) -> bool:
        return all(slot.state is ModelState.READY for slot in self.slots.values())
