"""Model control: reading checkpoint files into servables, and putting them into the repository.

Loading runs in a worker thread (a file read and a state-dict copy); the swap into the repository runs on
the event loop, one model at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from anyio import to_thread

import models
from app.core.dataplane import DataPlane
from app.core.servables import Servable, servable_for
from models import CheckpointError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """A model served from one configured checkpoint file, which must hold ``architecture``."""

    name: str
    architecture: str
    checkpoint_path: Path


@dataclass(frozen=True)
class Loaded:
    servable: Servable
    previous: Servable | None
    load_seconds: float


def load_servable(name: str, path: Path, device: torch.device, architecture: str | None = None) -> Servable:
    """Read ``path`` and build its servable; a CheckpointError names the file and the problem."""
    checkpoint = models.load(path, device=device, architecture=architecture)
    return servable_for(name, checkpoint.version, checkpoint)


class ModelControl:
    """Loads and reloads the configured models into the data plane's repository."""

    def __init__(self, dataplane: DataPlane, specs: list[ModelSpec]) -> None:
        self.dataplane = dataplane
        self.specs = {spec.name: spec for spec in specs}
        self.device = torch.device("cpu")
        self._locks = {name: asyncio.Lock() for name in self.specs}  # one reload of a model at a time
        for name in self.specs:
            dataplane.repository.add_model(name)
            dataplane.add_runner(name)

    def load_all(self, device: torch.device) -> None:
        """Load every configured checkpoint onto ``device``; a failure marks that model failed, no more."""
        self.device = device
        for spec in self.specs.values():
            with contextlib.suppress(CheckpointError):  # recorded as the model's failure
                self._load_now(spec.name, spec.checkpoint_path)

    def _load_now(self, name: str, path: Path) -> Loaded:
        spec, repository = self.specs[name], self.dataplane.repository
        started = time.perf_counter()
        try:
            servable = load_servable(name, path, self.device, spec.architecture)
        except CheckpointError as exc:
            # A version label is only known once a file has loaded: a failure is the model's "current".
            current = repository.model(name).default
            repository.fail(name, current.version if current else "-", path, str(exc))
            raise
        seconds = time.perf_counter() - started
        previous = repository.model(name).default
        if previous is not None and previous.version != servable.version:
            repository.forget(name, previous.version)
        repository.models[name].versions.pop("-", None)
        repository.serve(name, servable.version, path, servable, seconds)
        return Loaded(servable, previous, seconds)

    async def reload(self, name: str, path: Path | None = None) -> Loaded:
        """Load ``path`` (the configured checkpoint by default) off the event loop, then serve it.

        A bad checkpoint raises its CheckpointError before the swap, so the old version keeps serving.
        """
        spec = self.specs.get(name)
        if spec is None:
            self.dataplane.repository.model(name)  # raises UnknownModelError
        async with self._locks[name]:
            started = time.perf_counter()
            repository = self.dataplane.repository
            try:
                servable = await to_thread.run_sync(
                    load_servable, name, path or spec.checkpoint_path, self.device, spec.architecture
                )
            except CheckpointError as exc:
                log.error("model %s failed to reload from %s: %s", name, path or spec.checkpoint_path, exc)
                raise
            seconds = time.perf_counter() - started
            previous = repository.model(name).default
            if previous is not None and previous.version != servable.version:
                repository.forget(name, previous.version)
            repository.models[name].versions.pop("-", None)
            repository.serve(name, servable.version, path or spec.checkpoint_path, servable, seconds)
            return Loaded(servable, previous, seconds)
