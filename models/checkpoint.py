"""The checkpoint format that training writes and serving reads. The only caller of torch.save/torch.load.

A checkpoint is one ``torch.save`` file holding a plain dict::

    format_version  int, FORMAT_VERSION
    architecture    "logistic_regression" | "softmax_regression"
    version         the model version a user sees, e.g. "20261124.1"
    config          the architecture's config dataclass as a dict (preprocessing included)
    state_dict      the weights
    metadata        training facts: metrics, data, created_at, torch_version, ...

It holds only tensors and plain Python values, so it loads with ``weights_only=True``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
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
) -> Checkpoint:
    """Read a checkpoint onto ``device``; with ``architecture``, refuse any other kind of model.

    Raises a CheckpointError subclass naming the file and the problem, never a bare torch error.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointNotFoundError(path, "file not found") from None
    except IsADirectoryError:
        raise CheckpointNotFoundError(path, "is a directory, not a checkpoint file") from None
    except OSError as exc:
        raise CheckpointNotFoundError(path, f"cannot be read ({exc.strerror})") from None

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
        config = config_cls(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in payload["config"].items()}
        )
    except (TypeError, ValueError) as exc:
        raise CheckpointCorruptError(path, f"invalid {found} config: {exc}") from None
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
