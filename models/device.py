"""Choosing the one device a process runs on, for training and serving alike."""

from __future__ import annotations

import torch

from models.errors import ModelError


class DeviceUnavailableError(ModelError):
    """CUDA was asked for on a machine without a usable GPU."""


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU. ``cuda`` without a GPU is an error, not a fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceUnavailableError(f"device {name!r} was requested but no CUDA GPU is available")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise DeviceUnavailableError(f"unknown device {name!r}; expected auto, cpu or cuda")
    return torch.device(name)
