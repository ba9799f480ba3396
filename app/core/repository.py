"""The model repository as one worker holds it: model name -> versions -> loaded servable.

Every change to what serves (a load, a failed load, an unload, a pin) goes through ``ModelRepository``'s
few methods, which keep each model's ``default`` (the servable a request without a version gets) up to
date, so the hot path reads one attribute. Readers keep the servable they got for the whole request: a
swap or an unload never changes the model under a request already running. app/core/control.py decides
what should serve; this module only holds it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from app.core.errors import ModelUnavailableError, UnknownModelError, UnknownVersionError
from app.core.model_config import ModelConfig
from app.core.servables import Servable
from app.observability.metrics import record_load_failed, record_loaded, record_unloaded

log = logging.getLogger(__name__)


class VersionState(str, Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    UNLOADED = "unloaded"


class IndexState(str, Enum):
    """A version's state in the repository index (the OIP repository extension's words, REST and gRPC)."""

    READY = "READY"
    LOADING = "LOADING"
    UNAVAILABLE = "UNAVAILABLE"  # does not serve: ``reason`` says why (unloaded, or its load failure)


@dataclass(frozen=True)
class IndexEntry:
    name: str
    version: str
    state: IndexState
    reason: str


class ModelState(str, Enum):
    """A model as a whole: ready while a default version serves."""

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
    identity: tuple | None = None  # the file last read (control.py tells a changed file by it)


@dataclass
class ModelEntry:
    name: str
    versions: dict[str, ModelVersion] = field(default_factory=dict)  # in version order
    config: ModelConfig = field(default_factory=ModelConfig)
    config_error: str | None = None  # the config file on disk is unusable; ``config`` is the last good one
    default: Servable | None = None  # what a request without a version gets; kept by _refresh()

    @property
    def pinned(self) -> str | None:
        version = self.config.default_version
        return str(version) if version is not None else None

    @property
    def unloaded(self) -> bool:
        return self.config.unloaded

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
        if self.reason is not None:
            return ModelState.FAILED
        return ModelState.STARTING

    @property
    def reason(self) -> str | None:
        """Why the latest failed version failed to load, while the model does not serve."""
        if self.default is not None:
            return None
        failed = [v for v in self.versions.values() if v.state is VersionState.FAILED]
        if failed:
            return failed[-1].reason
        if not self.versions and not self.unloaded:
            return "no version files (<version>.pt) in its folder"
        return None

    @property
    def why_not_serving(self) -> str | None:
        """One sentence for readiness and for 503s; None while the model serves."""
        if self.default is not None:
            return None
        if self.unloaded:
            return f"model {self.name!r} is unloaded"
        if self.pinned is not None and self.pinned in self.versions:
            version = self.versions[self.pinned]
            if version.state is not VersionState.LOADING:
                return f"model {self.name!r}: pinned version {self.pinned} is {version.state.value}"
        if self.reason is not None:
            return f"model {self.name!r} failed to load: {self.reason}"
        return f"model {self.name!r} is still loading"

    def _refresh(self) -> None:
        self.versions = dict(sorted(self.versions.items(), key=lambda item: int(item[0])))
        pinned = self.versions.get(self.pinned) if self.pinned is not None else None
        if self.unloaded:
            self.default = None
        elif pinned is not None and pinned.servable is not None:
            self.default = pinned.servable
        else:
            # A pin on a version that does not serve falls back to the latest serving: never an outage.
            serving = self.serving
            self.default = serving[-1].servable if serving else None


class ModelRepository:
    """Every model this worker knows, by name; each with its versions in version order."""

    def __init__(self) -> None:
        self.models: dict[str, ModelEntry] = {}
        self.scanned = False  # whether the folder has been read once: not ready before

    @property
    def names(self) -> list[str]:
        return list(self.models)

    @property
    def ready(self) -> bool:
        """Every model that is meant to serve, serves (an unloaded one is not meant to)."""
        return self.scanned and all(m.default is not None or m.unloaded for m in self.models.values())

    def index(self, ready_only: bool = False) -> list[IndexEntry]:
        """Every version of every model, in order, and its state; ``ready_only``: those that serve."""
        entries = []
        for entry in self.models.values():
            for version in entry.versions.values():
                if version.state is VersionState.READY and not entry.unloaded:
                    state = IndexState.READY
                elif version.state is VersionState.LOADING:
                    state = IndexState.LOADING
                else:
                    state = IndexState.UNAVAILABLE
                if ready_only and state is not IndexState.READY:
                    continue
                reason = version.reason or ("unloaded" if state is IndexState.UNAVAILABLE else "")
                entries.append(IndexEntry(entry.name, version.version, state, reason))
        return entries

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
        if found is not None and found.servable is not None and not entry.unloaded:
            return found.servable
        if found is not None and found.state in (VersionState.FAILED, VersionState.LOADING):
            what = f"failed to load: {found.reason}" if found.reason else "is still loading"
            raise ModelUnavailableError(f"model {name!r} version {version} {what}")
        raise UnknownVersionError(name, version, [v.version for v in entry.serving])

    # State changes: the only places where what serves changes.

    def add_model(self, name: str) -> ModelEntry:
        return self.models.setdefault(name, ModelEntry(name))

    def configure(self, name: str, config: ModelConfig) -> None:
        entry = self.models[name]
        entry.config = config
        entry._refresh()

    def loading(self, name: str, version: str, path: Path) -> None:
        entry = self._version(name, version, path)
        if entry.servable is None:
            entry.state = VersionState.LOADING

    def serve(
        self, name: str, version: str, path: Path, servable: Servable, load_seconds: float, identity=None
    ) -> None:
        """``servable`` now serves ``version`` of ``name`` (in place of what served it before)."""
        entry = self._version(name, version, path)
        previous = entry.servable
        entry.servable, entry.state, entry.reason = servable, VersionState.READY, None
        entry.load_seconds, entry.identity = load_seconds, identity
        self.models[name]._refresh()
        record_loaded(servable, previous, load_seconds)
        log.info("model %s version %s serves from %s on %s", name, version, path, servable.checkpoint.device)

    def fail(self, name: str, version: str, path: Path, reason: str, identity=None) -> None:
        """A load of ``version`` failed: a version that serves keeps serving; the reason is kept."""
        entry = self._version(name, version, path)
        entry.reason, entry.identity = reason, identity
        if entry.servable is None:
            entry.state = VersionState.FAILED
        self.models[name]._refresh()
        record_load_failed(name, version)
        log.error("model %s version %s failed to load from %s: %s", name, version, path, reason)

    def unload(self, name: str, version: str, path: Path | None = None) -> None:
        """``version`` stops serving (it stays listed); requests holding its servable finish on it."""
        entry = self._version(name, version, path)
        if entry.servable is not None:
            record_unloaded(entry.servable)
            log.info("model %s version %s unloaded", name, version)
        entry.servable, entry.state, entry.reason, entry.identity = None, VersionState.UNLOADED, None, None
        self.models[name]._refresh()

    def forget(self, name: str, version: str) -> None:
        """``version`` is gone from the repository: unloaded, then dropped from the listing."""
        if version in self.models[name].versions:
            self.unload(name, version)
            del self.models[name].versions[version]
            self.models[name]._refresh()

    def remove_model(self, name: str) -> None:
        for version in list(self.models[name].versions):
            self.forget(name, version)
        del self.models[name]

    def _version(self, name: str, version: str, path: Path | None) -> ModelVersion:
        versions = self.add_model(name).versions
        entry = versions.get(version)
        if entry is None:
            entry = versions[version] = ModelVersion(version, path or Path())
        elif path is not None:
            entry.path = path
        return entry
