"""The checkpoint format that training writes and serving reads. The only caller of torch.save/torch.load.

A checkpoint is one ``torch.save`` file holding a plain dict::

    format_version  int, FORMAT_VERSION
    architecture    "logistic_regression" | "softmax_regression"
    version         the model version a user sees, e.g. "20261124.1"
    config          the architecture's config dataclass as a dict (preprocessing included)
    state_dict      the weights
    metadata        training facts: metrics, data, created_at, torch_version, ...

It holds only tensors and plain Python values, so it loads with ``weights_only=True``.

``load`` trusts nothing in the file: it reads only a regular file, at most ``max_bytes``, within
``timeout`` seconds (in a thread of its own, so a stuck read never holds up the next load; a FIFO is
refused without ever blocking), and checks the config's types, the weights' shapes and that they are
finite before anything serves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import stat
import threading
import typing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.errors import (
    ArchitectureMismatchError,
    CheckpointCorruptError,
    CheckpointNotFoundError,
    CheckpointTooLargeError,
    ShapeMismatchError,
)
from models.files import atomic_file
from models.logistic import LogisticConfig, LogisticRegression
from models.softmax import MnistConfig, SoftmaxRegression

FORMAT_VERSION = 1
ARCHITECTURES: dict[str, tuple[type[nn.Module], type]] = {
    LogisticRegression.architecture: (LogisticRegression, LogisticConfig),
    SoftmaxRegression.architecture: (SoftmaxRegression, MnistConfig),
}
_REQUIRED_KEYS = ("format_version", "architecture", "version", "config", "state_dict", "metadata")
DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # the MNIST checkpoint is 32 KiB; far larger is not one of ours
DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the model in eval mode on its device, plus what was recorded with it."""

    path: str
    architecture: str
    version: str
    model: nn.Module
    metadata: dict[str, Any]
    sha256: str
    size_bytes: int

    @property
    def config(self) -> Any:
        return self.model.config

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def default_version() -> str:
    """A sortable version for a freshly trained model: the UTC time it was saved."""
    return datetime.now(timezone.utc).strftime("%Y%m%d.%H%M%S")


def save(
    model: nn.Module,
    path: str | Path,
    *,
    version: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to ``path`` atomically (temp file in the same folder, then os.replace)."""
    path = Path(path)
    metadata = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch_version": str(torch.__version__),  # TorchVersion is not allowed under weights_only
        **(metadata or {}),
    }
    # Plain JSON values only, so the file loads with weights_only=True and /models can show them as they are.
    metadata = json.loads(json.dumps(metadata, allow_nan=False))
    payload = {
        "format_version": FORMAT_VERSION,
        "architecture": model.architecture,
        "version": version or default_version(),
        "config": dataclasses.asdict(model.config),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "metadata": metadata,
    }
    with atomic_file(path) as f:
        torch.save(payload, f)
    return path


def load(
    path: str | Path,
    *,
    device: str | torch.device = "cpu",
    architecture: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Checkpoint:
    """Read a checkpoint onto ``device``; with ``architecture``, refuse any other kind of model.

    Raises a CheckpointError subclass naming the file and the problem, never a bare torch error.
    """
    path = Path(path)
    raw = read_bounded(path, max_bytes, timeout)

    try:
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad bytes; all mean the same to a user
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        reason = next((line for line in lines if line.startswith("WeightsUnpickler error")), lines[0])
        reason = reason.split(". ")[0][:200]
        raise CheckpointCorruptError(
            path, f"not a readable checkpoint (corrupt or truncated): {reason}"
        ) from None

    _check_layout(path, payload)
    found = payload["architecture"]
    if architecture is not None and found != architecture:
        raise ArchitectureMismatchError(path, f"holds a {found} model, expected {architecture}")
    module_cls, config_cls = ARCHITECTURES[found]
    try:
        config = config_cls(**_typed_config(config_cls, payload["config"]))
    except (TypeError, ValueError) as exc:
        raise CheckpointCorruptError(path, f"invalid {found} config: {exc}") from None
    _check_weights(path, payload["state_dict"])
    model = module_cls(config)
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).splitlines()[1:])[:300]
        raise ShapeMismatchError(path, f"weights do not fit {found} with config {config}: {detail}") from None

    model.to(device).eval()
    model.requires_grad_(False)
    return Checkpoint(
        path=str(path),
        architecture=found,
        version=str(payload["version"]),
        model=model,
        metadata=payload["metadata"],
        sha256=hashlib.sha256(raw).hexdigest(),
        size_bytes=len(raw),
    )


def read_bounded(path: Path, max_bytes: int, timeout: float) -> bytes:
    """The bytes of regular file ``path`` (at most ``max_bytes``), read within ``timeout`` seconds.

    The read runs in a daemon thread of its own: one stuck on a dead network mount is left behind, and
    the next load starts afresh.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def read() -> None:
        try:
            outcome["data"] = _read_regular_file(path, max_bytes)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=read, name=f"read {path.name}", daemon=True).start()
    if not done.wait(timeout):
        raise CheckpointNotFoundError(path, f"could not be read within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["data"]


def _read_regular_file(path: Path, max_bytes: int) -> bytes:
    try:
        # O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise CheckpointNotFoundError(path, "file not found") from None
    except OSError as exc:
        raise CheckpointNotFoundError(path, f"cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise CheckpointNotFoundError(path, "is a directory, not a checkpoint file")
        if not stat.S_ISREG(info.st_mode):
            raise CheckpointNotFoundError(path, f"is a {_file_kind(info.st_mode)}, not a regular file")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb", buffering=0) as f:
        size = info.st_size
        if size > max_bytes:
            raise CheckpointTooLargeError(path, f"is {size} bytes, over the limit of {max_bytes}")
        chunks, total = [], 0
        while chunk := f.read(min(1 << 20, max_bytes + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:  # it grew while being read
                raise CheckpointTooLargeError(path, f"is over the limit of {max_bytes} bytes")
        return b"".join(chunks)


def _file_kind(mode: int) -> str:
    kinds = {stat.S_ISFIFO: "FIFO", stat.S_ISSOCK: "socket", stat.S_ISCHR: "character device"}
    return next((name for test, name in kinds.items() if test(mode)), "special file")


def _typed_config(config_cls: type, raw: dict) -> dict[str, Any]:
    """The config's fields with the types its dataclass declares, or a ValueError naming the field.

    JSON-like values only: an int field takes an int (not a bool, not 28.0), a float field a finite
    number, a tuple field a list of its element type.
    """
    hints = typing.get_type_hints(config_cls)
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(str, unknown))}")
    typed = {}
    for name, value in raw.items():
        expected = hints[name]
        if typing.get_origin(expected) is tuple:
            element = typing.get_args(expected)[0]
            if not isinstance(value, list | tuple) or not all(_is(v, element) for v in value):
                raise ValueError(f"{name} must be a list, each {_TYPE_NAMES[element]}, got {value!r:.80}")
            typed[name] = tuple(value)
        elif not _is(value, expected):
            raise ValueError(f"{name} must be {_TYPE_NAMES[expected]}, got {value!r:.80}")
        else:
            typed[name] = float(value) if expected is float else value
    return typed


_TYPE_NAMES = {int: "an integer", float: "a finite number", str: "a string", bool: "true or false"}


def _is(value: Any, expected: type) -> bool:
    if isinstance(value, bool):
        return expected is bool
    if expected is float:
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, expected)


def _check_weights(path: Path, state_dict: dict) -> None:
    for name, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise CheckpointCorruptError(path, f"weight {name!r} is not a floating-point tensor")
        if not bool(torch.isfinite(tensor).all()):
            raise CheckpointCorruptError(path, f"weight {name!r} holds NaN or infinite values")


def _check_layout(path: Path, payload: Any) -> None:
    if not isinstance(payload, dict):
        raise CheckpointCorruptError(path, f"expected a checkpoint dict, found {type(payload).__name__}")
    missing = [k for k in _REQUIRED_KEYS if k not in payload]
    if missing:
        raise CheckpointCorruptError(path, f"not a checkpoint of this project: missing {', '.join(missing)}")
    if payload["format_version"] != FORMAT_VERSION:
        raise CheckpointCorruptError(
            path, f"format version {payload['format_version']!r} is not supported (expected {FORMAT_VERSION})"
        )
    if payload["architecture"] not in ARCHITECTURES:
        raise ArchitectureMismatchError(
            path, f"unknown architecture {payload['architecture']!r} (known: {', '.join(ARCHITECTURES)})"
        )
    if not isinstance(payload["config"], dict) or not isinstance(payload["state_dict"], dict):
        raise CheckpointCorruptError(path, "config and state_dict must be dicts")
    if not isinstance(payload["metadata"], dict) or not isinstance(
        payload["metadata"].get("metrics", {}), dict
    ):
        raise CheckpointCorruptError(path, "metadata (and its metrics) must be dicts")
    if not isinstance(payload["version"], str | int) or isinstance(payload["version"], bool):
        raise CheckpointCorruptError(path, "version must be a string")
