"""Model control: one worker's repository kept in step with the folder on disk, and the admin operations.

The folder is the single source of truth. Each worker (uvicorn process, Ray Serve replica) runs its own
``ModelControl``, which scans the folder and converges to it:

* **poll** mode: a scan every ``poll_seconds``. A new version file is loaded, checked and serves; a
  removed one stops serving (requests holding it finish on it); a changed one is read again.
* **explicit** mode: a scan at start-up and whenever an admin call has changed something. Admin calls
  touch the repository's ``.generation`` file; every worker checks it every ``poll_seconds``.

Admin calls (load, unload, reload, pin) change the truth on disk (the model's config.json, see
model_config.py), then scan at once in the worker that took the call; the others converge within a poll
interval, and a restarted worker starts from the same truth. A file that fails to load never replaces a
serving version: its failure shows in /models, the log and ``model_load_failures_total``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from anyio import to_thread

import models
from app.core.dataplane import DataPlane
from app.core.errors import ConflictError, InvalidContentError, UnknownModelError, UnknownVersionError
from app.core.model_config import ModelConfig, ModelConfigError, read_config, update_config
from app.core.repository import IndexEntry, ModelEntry, VersionState
from app.core.servables import Servable, servable_for
from models import CheckpointError
from models.files import atomic_file
from models.repository import is_companion, is_model_name, locked, parse_version

log = logging.getLogger(__name__)

GENERATION_FILE = ".generation"
Identity = tuple[int, int, int, int]  # (device, inode, size, mtime_ns): a file replaced or changed differs


@dataclass(frozen=True)
class LoadLimits:
    max_bytes: int = 64 * 1024 * 1024
    timeout_seconds: float = 10.0


@dataclass
class DiskModel:
    """A model folder as one scan found it."""

    name: str
    folder: Path
    config: ModelConfig | None  # None: the config file is unusable (``config_error`` says why)
    config_error: str | None
    versions: dict[int, tuple[Path, Identity | None]] = field(default_factory=dict)  # ascending


def load_servable(name: str, version: int, path: Path, device: torch.device, limits: LoadLimits) -> Servable:
    """Read ``path`` within ``limits`` and build its servable; a CheckpointError says what is wrong."""
    checkpoint = models.load(path, device=device, max_bytes=limits.max_bytes, timeout=limits.timeout_seconds)
    return servable_for(name, str(version), checkpoint)


def _identity(path: Path) -> Identity | None:
    try:
        st = os.stat(path)  # never opens the file: a FIFO cannot block here
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class ModelControl:
    def __init__(
        self,
        dataplane: DataPlane,
        root: Path,
        *,
        explicit: bool = False,
        poll_seconds: float = 2.0,
        limits: LoadLimits | None = None,
    ) -> None:
        self.dataplane, self.root = dataplane, Path(root)
        self.explicit, self.poll_seconds = explicit, poll_seconds
        self.limits = limits or LoadLimits()
        self.device = torch.device("cpu")
        self._lock = asyncio.Lock()  # one scan (or admin call) at a time in this worker
        self._warned: set[str] = set()
        self._generation: Identity | None = None
        self._poller: asyncio.Task | None = None

    @property
    def mode(self) -> str:
        return "explicit" if self.explicit else "poll"

    # Lifecycle

    async def start(self, device: torch.device) -> None:
        """Load the repository as it is on disk, then keep following it."""
        self.device = device
        if not self.root.is_dir():
            log.error("model repository %s is not a folder: no models will serve", self.root)
        await self.sync()
        self._poller = asyncio.create_task(self._poll_forever(), name="repository-poll")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                if not self.explicit or self._generation != _identity(self.root / GENERATION_FILE):
                    await self.sync()
            except Exception:  # a scan must never stop the poller: log it, try again next time
                log.exception("scanning the model repository %s failed", self.root)

    # Converging to the disk

    async def sync(self, force: frozenset[str] = frozenset()) -> None:
        """Make this worker serve what the repository says; ``force``: models whose files are read again."""
        async with self._lock:
            await self._sync(force)

    async def _sync(self, force: frozenset[str]) -> None:
        self._generation = _identity(self.root / GENERATION_FILE)
        found = await to_thread.run_sync(self._scan)
        repository = self.dataplane.repository
        for name in [n for n in repository.models if n not in found]:
            repository.remove_model(name)
            log.info("model %s is gone from the repository", name)
        for name, disk in found.items():
            await self._sync_model(disk, name in force)
        repository.scanned = True

    async def _sync_model(self, disk: DiskModel, force: bool) -> None:
        repository = self.dataplane.repository
        entry = repository.add_model(disk.name)
        self.dataplane.add_runner(disk.name)
        if disk.config_error != entry.config_error and disk.config_error is not None:
            log.error("model %s: %s; keeping its last good config", disk.name, disk.config_error)
        entry.config_error = disk.config_error
        config = disk.config or entry.config
        entry.config = config
        candidates, enough = self._candidates(disk, config)
        kept: set[int] = set()
        for version in candidates:
            if len(kept) >= enough:
                break
            if await self._ensure_loaded(entry, version, disk.versions[version], force):
                kept.add(version)
        pinned = config.default_version
        if pinned in disk.versions and pinned not in kept and not config.unloaded:
            await self._ensure_loaded(
                entry, pinned, disk.versions[pinned], force
            )  # serves whatever the policy
            kept.add(pinned)
        for version, (path, _) in disk.versions.items():
            known = entry.versions.get(str(version))
            if version not in kept and (known is None or known.state is not VersionState.FAILED):
                repository.unload(disk.name, str(version), path)
        for label in [v for v in entry.versions if int(v) not in disk.versions]:
            repository.forget(disk.name, label)
        repository.configure(disk.name, config)

    async def _ensure_loaded(
        self, entry: ModelEntry, version: int, found: tuple[Path, Identity | None], force: bool
    ) -> bool:
        """Load ``version`` unless the file it serves (or failed on) is unchanged; whether it serves."""
        path, identity = found
        known = entry.versions.get(str(version))
        fresh = known is not None and known.identity == identity and known.state is not VersionState.UNLOADED
        if force or not fresh:
            await self._load(entry, str(version), path, identity)
        return entry.versions[str(version)].servable is not None

    @staticmethod
    def _candidates(disk: DiskModel, config: ModelConfig) -> tuple[list[int], float]:
        """The versions to try, in order, and how many of them should serve.

        "latest N" means the N newest versions that load: a bad newest file leaves the one before it
        serving, rather than nothing.
        """
        if config.unloaded:
            return [], 0
        policy = config.version_policy
        if policy.all is not None or policy.specific is not None:
            return policy.select(list(disk.versions)), float("inf")
        return sorted(disk.versions, reverse=True), policy.latest.num_versions if policy.latest else 1

    async def _load(self, entry: ModelEntry, version: str, path: Path, identity: Identity | None) -> None:
        repository = self.dataplane.repository
        repository.loading(entry.name, version, path)
        started = time.perf_counter()
        try:
            servable = await to_thread.run_sync(
                load_servable, entry.name, int(version), path, self.device, self.limits
            )
        except CheckpointError as exc:
            repository.fail(entry.name, version, path, str(exc), identity)
            return
        except Exception as exc:  # a bug of ours on a strange file: that version fails, the scan goes on
            log.exception("loading model %s version %s from %s failed", entry.name, version, path)
            repository.fail(entry.name, version, path, f"unexpected error: {type(exc).__name__}", identity)
            return
        repository.serve(entry.name, version, path, servable, time.perf_counter() - started, identity)

    def _scan(self) -> dict[str, DiskModel]:
        """Every model folder under the root, with its config and version files (runs in a thread)."""
        try:
            names = sorted(os.listdir(self.root))
        except OSError as exc:
            self._warn_once(str(self.root), f"model repository {self.root} cannot be read: {exc.strerror}")
            return {}
        found = {}
        for name in names:
            folder = self.root / name
            if name.startswith("."):
                continue  # the repository's own files (.generation, temporary files)
            if not is_model_name(name) or not folder.is_dir():
                self._warn_once(str(folder), f"ignoring {folder}: not a model folder (a URL-safe name)")
                continue
            found[name] = self._scan_model(name, folder)
        return found

    def _scan_model(self, name: str, folder: Path) -> DiskModel:
        try:
            config, error = read_config(folder), None
        except ModelConfigError as exc:
            config, error = None, str(exc)
        disk = DiskModel(name, folder, config, error)
        try:
            files = sorted(os.listdir(folder))
        except OSError:
            return disk
        for filename in files:
            version = parse_version(filename)
            if version is not None:
                disk.versions[version] = (folder / filename, _identity(folder / filename))
            elif not (filename.startswith(".") or is_companion(filename)):
                self._warn_once(str(folder / filename), f"ignoring {folder / filename}: not <version>.pt")
        disk.versions = dict(sorted(disk.versions.items()))
        return disk

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s", message)

    # Admin operations: change the truth on disk, tell every worker, converge here at once.

    def _folder(self, name: str) -> Path:
        folder = self.root / name
        if not is_model_name(name) or not folder.is_dir():
            raise UnknownModelError(name, sorted(self.dataplane.repository.names))
        return folder

    def _changed(self) -> None:
        """Tell every worker (explicit mode included) that the repository changed."""
        with atomic_file(self.root / GENERATION_FILE, "w") as f:
            f.write(f"{time.time_ns()} {os.getpid()}\n")

    def _write_config(self, folder: Path, **changes: object) -> int | None:
        """Change the model's config.json (under its lock), tell every worker; the old default version."""
        try:
            with locked(folder):
                previous = read_config(folder).default_version
                update_config(folder, **changes)
            self._changed()
        except ModelConfigError as exc:
            raise ConflictError(f"{exc}: fix or remove the file first") from None
        except OSError as exc:
            raise ConflictError(f"cannot change the model repository at {folder}: {exc.strerror}") from None
        return previous

    def index(self, ready_only: bool = False) -> list[IndexEntry]:
        """Every version this worker knows and its state (the OIP repository index, REST and gRPC)."""
        return self.dataplane.repository.index(ready_only)

    async def load(self, name: str, parameters: Mapping[str, object] | None = None) -> ModelEntry:
        """Serve ``name`` (its versions as its policy says), reading its files again.

        ``parameters``: what an OIP load request sent beside the name (a config, files): always refused,
        as models come only from the repository.
        """
        if parameters:
            raise InvalidContentError(
                "this server loads models only from its repository: a config or files cannot be sent"
            )
        folder = self._folder(name)
        async with self._lock:
            self._write_config(folder, unloaded=None)
            await self._sync(frozenset({name}))
        return self.dataplane.repository.model(name)

    async def unload(self, name: str) -> ModelEntry:
        """Stop serving every version of ``name``; requests in flight finish on theirs."""
        folder = self._folder(name)
        async with self._lock:
            self._write_config(folder, unloaded=True)
            await self._sync(frozenset())
        return self.dataplane.repository.model(name)

    async def reload(self, name: str) -> ModelEntry:
        """Read every served version of ``name`` from disk again (a file replaced in place)."""
        self._folder(name)
        async with self._lock:
            with contextlib.suppress(OSError):  # a read-only repository: this worker reads its files again
                self._changed()
            await self._sync(frozenset({name}))
        return self.dataplane.repository.model(name)

    async def pin(self, name: str, version: int | None) -> ModelEntry:
        """Make ``version`` the default of ``name`` (None: back to the latest serving)."""
        folder = self._folder(name)
        if version is not None and parse_version(f"{version}.pt") is None:
            raise UnknownVersionError(name, version, [])
        if version is not None and not (folder / f"{version}.pt").exists():
            entry = self.dataplane.repository.model(name)
            raise UnknownVersionError(name, version, [v.version for v in entry.serving])
        async with self._lock:
            previous = self._write_config(folder, default_version=version)
            await self._sync(frozenset())
            entry = self.dataplane.repository.model(name)
            pinned = entry.versions.get(str(version)) if version is not None else None
            if version is not None and (pinned is None or pinned.servable is None):
                self._write_config(folder, default_version=previous)
                await self._sync(frozenset())
                reason = pinned.reason if pinned is not None else "not loaded"
                raise ConflictError(f"model {name!r} version {version} cannot serve: {reason}")
        return entry
