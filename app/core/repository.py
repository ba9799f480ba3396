"""The model repository as one worker holds it: model name -> versions -> loaded servable.

Every change to what serves (a load, a failed load, an unload, a pin) goes through ``ModelEntry``'s few
methods, which keep ``default`` (the servable a request without a version gets) up to date, so the hot
path reads one attribute. Readers keep the servable they got for the whole request: a swap or an unload
never changes the model under a request already running.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from app.core.errors import ModelUnavailableError, UnknownModelError, UnknownVersionError
from app.core.servables import Servable
from app.observability.metrics import record_load_failed, record_loaded, record_unloaded

log = logging.getLogger(__name__)


class VersionState(str, Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    UNLOADED = "unloaded"


class ModelState(str, Enum):
    """A model as a whole: ready while any version serves."""

    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    UNLOADED = "unloaded"


@dataclass
class ModelVersion:
    """One version of a model: where it lies, its state, and the servable while it serves.

    A version that serves and then fails to reload keeps serving its old servable: ``reason`` then says
    why the new file was refused while ``state`` stays ready.
    """

    version: str
    path: Path
    state: VersionState = VersionState.LOADING
    servable: Servable | None = None
    reason: str | None = None
    load_seconds: float | None = None


@dataclass
class ModelEntry:
    name: str
    versions: dict[str, ModelVersion] = field(default_factory=dict)  # in version order
    pinned: str | None = None  # the operator's default version, if any
    unloaded: bool = False  # the whole model was unloaded on purpose
    default: Servable | None = None  # what a request without a version gets; kept by _refresh()

    def version(self, version: str) -> ModelVersion:
        """The entry of ``version``, creating it (loading) when new."""
        entry = self.versions.get(version)
        if entry is None:
            entry = self.versions[version] = ModelVersion(version, Path())
        return entry

    @property
    def serving(self) -> list[ModelVersion]:
        return [v for v in self.versions.values() if v.servable is not None]

    @property
    def default_version(self) -> str | None:
        return self.default.version if self.default is not None else None

    @property
    def state(self) -> ModelState:
        if self.default is not None:
            return ModelState.READY
        if self.unloaded:
            return ModelState.UNLOADED
        if any(v.state is VersionState.FAILED for v in self.versions.values()):
            return ModelState.FAILED
        return ModelState.STARTING

    @property
    def reason(self) -> str | None:
        """Why the latest failed version failed to load, while the model does not serve."""
        if self.default is not None:
            return None
        failed = [v for v in self.versions.values() if v.state is VersionState.FAILED]
        return failed[-1].reason if failed else None

    @property
    def why_not_serving(self) -> str | None:
        """One sentence for readiness and for 503s; None while the model serves."""
        if self.default is not None:
            return None
        if self.unloaded:
            return f"model {self.name!r} is unloaded"
        if self.reason is not None:
            return f"model {self.name!r} failed to load: {self.reason}"
        if self.pinned is not None and self.versions:
            return f"model {self.name!r}: pinned version {self.pinned} is not serving"
        return f"model {self.name!r} is still loading"

    def _refresh(self) -> None:
        serving = self.serving
        pinned = self.versions.get(self.pinned) if self.pinned is not None else None
        if pinned is not None and pinned.servable is not None:
            self.default = pinned.servable
        elif self.pinned is not None or self.unloaded:
            self.default = None
        else:
            self.default = serving[-1].servable if serving else None


class ModelRepository:
    """Every model this worker knows, by name; each with its versions in version order."""

    def __init__(self) -> None:
        self.models: dict[str, ModelEntry] = {}

    @property
    def names(self) -> list[str]:
        return list(self.models)

    @property
    def ready(self) -> bool:
        """Every model that is meant to serve, serves (an unloaded one is not meant to)."""
        return all(m.default is not None or m.unloaded for m in self.models.values())

    def model(self, name: str) -> ModelEntry:
        try:
            return self.models[name]
        except KeyError:
            raise UnknownModelError(name, self.names) from None

    def servable(self, name: str, version: str | None = None) -> Servable:
        """What serves ``name`` (its default version, or ``version``); the hot path's one look-up."""
        try:
            entry = self.models[name]
        except KeyError:
            raise UnknownModelError(name, self.names) from None
        if version is None:
            servable = entry.default
            if servable is None:
                raise ModelUnavailableError(entry.why_not_serving)
            return servable
        found = entry.versions.get(version)
        if found is None or found.servable is None:
            if found is not None and found.state is VersionState.FAILED:
                raise ModelUnavailableError(
                    f"model {name!r} version {version} failed to load: {found.reason}"
                )
            raise UnknownVersionError(name, version, [v.version for v in entry.serving])
        return found.servable

    # State changes: the only places where what serves changes.

    def add_model(self, name: str) -> ModelEntry:
        return self.models.setdefault(name, ModelEntry(name))

    def serve(self, name: str, version: str, path: Path, servable: Servable, load_seconds: float) -> None:
        """``servable`` now serves ``version`` of ``name`` (in place of what served it before)."""
        entry = self.add_model(name).version(version)
        previous = entry.servable
        entry.path, entry.servable, entry.state = path, servable, VersionState.READY
        entry.reason, entry.load_seconds = None, load_seconds
        self.models[name]._refresh()
        record_loaded(servable, previous, load_seconds)
        log.info("model %s version %s serves from %s on %s", name, version, path, servable.checkpoint.device)

    def fail(self, name: str, version: str, path: Path, reason: str) -> None:
        """A load of ``version`` failed: a version that serves keeps serving; the reason is kept."""
        entry = self.add_model(name).version(version)
        entry.path, entry.reason = path, reason
        if entry.servable is None:
            entry.state = VersionState.FAILED
        self.models[name]._refresh()
        record_load_failed(name, version)
        log.error("model %s version %s failed to load from %s: %s", name, version, path, reason)

    def unload(self, name: str, version: str) -> None:
        """``version`` stops serving; requests holding its servable finish on it."""
        entry = self.models[name].versions.get(version)
        if entry is None:
            return
        if entry.servable is not None:
            record_unloaded(entry.servable)
            log.info("model %s version %s unloaded", name, version)
        entry.servable, entry.state, entry.reason = None, VersionState.UNLOADED, None
        self.models[name]._refresh()

    def forget(self, name: str, version: str) -> None:
        """``version`` is gone from the repository: unloaded, then dropped from the listing."""
        self.unload(name, version)
        self.models[name].versions.pop(version, None)
        self.models[name]._refresh()
