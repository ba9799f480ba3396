"""Helpers both training scripts share: device choice, seeding, progress bars, output files."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from tqdm import tqdm

import models
from models import DeviceUnavailableError, repository, resolve_device
from models.files import atomic_file

T = TypeVar("T")
DEVICE_CHOICES = ("auto", "cpu", "cuda")


class UsageError(Exception):
    """A problem the user can fix (bad data, missing files, no GPU): one line on stderr, exit 2."""

    exit_status = 2


class NotConvergedError(UsageError):
    """Training stopped short of the optimum: one line on stderr, exit 1, nothing saved."""

    exit_status = 1


def run_cli(
    parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int], argv: list[str] | None
) -> int:
    """Parse ``argv`` and run; a UsageError becomes one line on stderr and its exit status, no traceback."""
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UsageError as exc:
        parser.exit(exc.exit_status, f"{parser.prog}: error: {exc}\n")


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


def write_json(path: str | Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON atomically, so a reader never sees half a file."""
    with atomic_file(path, "w") as f:
        f.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
    return Path(path)


def add_output_arguments(p: argparse.ArgumentParser, default: Path | None) -> None:
    """--out, --repository/--name and --model-version: where a run saves, the same in both trainers."""
    where = f" (default: {default})" if default else ""
    p.add_argument(
        "--out",
        type=Path,
        help=f"checkpoint file; <stem>.metrics.json and <stem>.report.png go next to it{where}",
    )
    p.add_argument(
        "--repository",
        type=Path,
        metavar="DIR",
        help="model repository: writes DIR/NAME/<next version>.pt with its metrics and report, never\n"
        "overwriting a version; needs --name",
    )
    p.add_argument("--name", help="model name in --repository (letters, digits, '-' and '_')")
    p.add_argument(
        "--model-version",
        help="version stored in an --out checkpoint (default: UTC time; in a repository, its number)",
    )


@dataclass(frozen=True)
class Destination:
    """Where a run's checkpoint goes: one file (``out``), or the next version of ``name`` in a repository."""

    out: Path | None = None
    version: str | None = None
    repository: Path | None = None
    name: str | None = None

    @contextlib.contextmanager
    def checkpoint(self) -> Iterator[tuple[Path, str | None]]:
        """(checkpoint path, version); in a repository, its folder is locked until the block ends."""
        if self.repository is None:
            yield self.out, self.version
            return
        with repository.new_version(self.repository, self.name) as path:
            yield path, path.stem


def destination(args: argparse.Namespace, default: Path | None, missing: str = "") -> Destination | None:
    """Check the output arguments before training: None for a dry run without one; UsageError if unusable.

    ``default``: where a run saves without --out or --repository; None refuses with ``missing``.
    """
    if args.repository is not None or args.name is not None:
        if args.repository is None or args.name is None:
            raise UsageError("--repository and --name go together: --repository DIR --name NAME")
        if args.out is not None or args.model_version is not None:
            raise UsageError("--repository numbers the versions itself: drop --out and --model-version")
        if not repository.is_model_name(args.name):
            raise UsageError(
                f"--name {args.name!r} is not a model name (letters, digits, '-' and '_', at most 64)"
            )
        return Destination(repository=args.repository, name=args.name)
    if args.out is not None:
        return Destination(out=args.out, version=args.model_version)
    if args.dry_run:
        log("dry run: nothing saved (pass --out FILE or --repository DIR --name NAME to save)")
        return None
    if default is None:
        raise UsageError(missing)
    return Destination(out=default, version=args.model_version)


def save_run(
    where: Destination,
    model: torch.nn.Module,
    *,
    metadata: dict[str, Any],
    extra: dict[str, Any],
    report: Callable[[Path], Path] | None = None,
) -> list[Path]:
    """The metrics file (``metadata`` plus ``extra``: histories, matrices), the report, then the checkpoint.

    The checkpoint comes last, so whoever watches for it (serving's repository) finds its companions.
    """
    with where.checkpoint() as (out, version):
        written = [write_json(repository.metrics_path(out), {**metadata, **extra})]
        if report is not None:
            written.append(report(repository.report_path(out)))
        models.save(model, out, version=version, metadata=metadata)
    log(f"saved {', '.join(map(str, [out, *written]))}")
    return [out, *written]
