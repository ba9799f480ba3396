"""The model repository's layout on disk: training adds versions to it, serving reads them.

    <repository>/<model name>/<version>.pt             a checkpoint (models/checkpoint.py)
    <repository>/<model name>/<version>.metrics.json   its training metrics
    <repository>/<model name>/<version>.report.png     its training report
    <repository>/<model name>/config.json              optional: version policy, default version (serving)

A model name is a URL-safe slug. A version is a positive integer without leading zeros (so ``01.pt`` cannot
alias ``1.pt``), ordered numerically as Triton orders them. Serving watches for ``<version>.pt``; a writer
puts the files beside it first and the checkpoint last, each atomically, so a reader that sees a checkpoint
sees all of it and its companions. Names starting with '.' (temporary files, the writers' lock) are the
repository's own, not models or versions.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

CHECKPOINT_SUFFIX = ".pt"
CONFIG_FILE = "config.json"
_COMPANION_FILE = re.compile(r"[1-9][0-9]{0,8}\.(metrics\.json|report\.png)")
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_VERSION_FILE = re.compile(r"([1-9][0-9]{0,8})\.pt")  # at most 999,999,999: an int everywhere
_LOCK_FILE = ".lock"


def is_model_name(name: str) -> bool:
    """Whether ``name`` may name a model: letters, digits, '-' and '_', starting with a letter or digit."""
    return _MODEL_NAME.fullmatch(name) is not None


def parse_version(filename: str) -> int | None:
    """``"3.pt"`` -> 3; None for any other file name (``"03.pt"``, ``"3.metrics.json"``, ``"v3.pt"``)."""
    match = _VERSION_FILE.fullmatch(filename)
    return int(match.group(1)) if match else None


def is_companion(filename: str) -> bool:
    """Whether ``filename`` belongs in a model folder beside its checkpoints: a version's metrics or
    report, or the model's config."""
    return filename == CONFIG_FILE or _COMPANION_FILE.fullmatch(filename) is not None


def checkpoint_path(repository: str | Path, name: str, version: int) -> Path:
    if not is_model_name(name):
        raise ValueError(f"{name!r} is not a model name (letters, digits, '-' and '_', at most 64)")
    if version < 1:
        raise ValueError(f"versions are positive integers, got {version}")
    return Path(repository) / name / f"{version}{CHECKPOINT_SUFFIX}"


def metrics_path(checkpoint: str | Path) -> Path:
    """``mnist/3.pt`` -> ``mnist/3.metrics.json``"""
    return Path(checkpoint).with_suffix(".metrics.json")


def report_path(checkpoint: str | Path) -> Path:
    """``mnist/3.pt`` -> ``mnist/3.report.png``"""
    return Path(checkpoint).with_suffix(".report.png")


def versions(model_dir: str | Path) -> dict[int, Path]:
    """Every ``<version>.pt`` entry in ``model_dir``, by version, ascending; {} when the folder is missing.

    Only names are judged here: whether an entry is a readable regular file is the loader's business.
    """
    try:
        names = os.listdir(model_dir)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    found = {v: Path(model_dir) / n for n in names if (v := parse_version(n)) is not None}
    return dict(sorted(found.items()))


def next_version(model_dir: str | Path) -> int:
    return max(versions(model_dir), default=0) + 1


@contextlib.contextmanager
def new_version(repository: str | Path, name: str) -> Iterator[Path]:
    """``with new_version(repo, "mnist") as checkpoint: ...``: the next version's checkpoint path.

    The model's folder is locked for the block, so two trainings writing into one repository take
    different numbers. Write the companions (metrics_path, report_path) first and the checkpoint last.
    """
    model_dir = checkpoint_path(repository, name, 1).parent
    model_dir.mkdir(parents=True, exist_ok=True)
    with locked(model_dir):
        yield checkpoint_path(repository, name, next_version(model_dir))


@contextlib.contextmanager
def locked(model_dir: str | Path) -> Iterator[None]:
    """Hold the model folder's writers' lock (across processes) for the block: a new version, or a
    change to its config, one at a time."""
    with open(Path(model_dir) / _LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
