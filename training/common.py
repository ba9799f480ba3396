"""Helpers both training scripts share: device choice, seeding, progress bars, output files."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import torch
from tqdm import tqdm

import models
from models import DeviceUnavailableError, resolve_device
from models.files import atomic_file

T = TypeVar("T")
DEVICE_CHOICES = ("auto", "cpu", "cuda")


class UsageError(Exception):
    """A problem the user can fix (bad data, missing files, no GPU): one line on stderr, exit 2."""


def run_cli(
    parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int], argv: list[str] | None
) -> int:
    """Parse ``argv`` and run; a UsageError becomes one line on stderr and exit status 2, no traceback."""
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UsageError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")


def choose_device(requested: str) -> torch.device:
    """The one device a run uses: the same rule as serving (`auto` takes CUDA when there is one)."""
    try:
        return resolve_device(requested)
    except DeviceUnavailableError as exc:
        raise UsageError(f"--device: {exc}") from None


def set_cpu_threads(threads: int) -> None:
    """Pin torch's CPU thread count; 0 keeps torch's default (one per core)."""
    if threads < 0:
        raise UsageError(f"--threads must be >= 0, got {threads}")
    if threads:
        torch.set_num_threads(threads)


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global RNG (weight init) and return a CPU generator for shuffling and splits.

    A separate generator keeps the data order independent of how many random numbers init consumed.
    """
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def progress(items: Iterable[T], **tqdm_kwargs: Any) -> Iterator[T]:
    """A tqdm bar on a terminal; plain iteration in logs, CI and tests."""
    return iter(tqdm(items, disable=not sys.stderr.isatty(), leave=False, **tqdm_kwargs))


def log(message: str) -> None:
    """Print without breaking an active progress bar."""
    tqdm.write(message)


def metrics_path(checkpoint: str | Path) -> Path:
    """checkpoints/mnist.pt -> checkpoints/mnist.metrics.json"""
    return Path(checkpoint).with_suffix(".metrics.json")


def report_path(checkpoint: str | Path) -> Path:
    """checkpoints/mnist.pt -> checkpoints/mnist.report.png"""
    return Path(checkpoint).with_suffix(".report.png")


def write_json(path: str | Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON atomically, so a reader never sees half a file."""
    with atomic_file(path, "w") as f:
        f.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
    return Path(path)


def output_path(args: argparse.Namespace, default: Path) -> Path | None:
    """Where a run saves: ``--out``, else ``default``; nowhere for a dry run without ``--out``."""
    out = args.out or (None if args.dry_run else default)
    if out is None:
        log("dry run: nothing saved (pass --out to save)")
    return out


def save_run(
    model: torch.nn.Module, out: Path, *, version: str | None, metadata: dict[str, Any], extra: dict[str, Any]
) -> list[Path]:
    """The checkpoint, and beside it the metrics file: its metadata plus ``extra`` (histories, matrices)."""
    models.save(model, out, version=version, metadata=metadata)
    return [out, write_json(metrics_path(out), {**metadata, **extra})]
