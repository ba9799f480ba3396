"""Domain errors. The API maps each of them to an HTTP status in one place (app/errors.py)."""

from __future__ import annotations

from pathlib import Path


class ModelError(Exception):
    """Base class for every error raised by `models`."""


class CheckpointError(ModelError):
    """A checkpoint file cannot be used. The message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"checkpoint {self.path}: {problem}")


class CheckpointNotFoundError(CheckpointError):
    """The checkpoint file does not exist."""


class CheckpointCorruptError(CheckpointError):
    """The file exists but is not a readable checkpoint (truncated, garbage, wrong layout)."""


class CheckpointTooLargeError(CheckpointError):
    """The file is larger than the loader's size cap."""


class ArchitectureMismatchError(CheckpointError):
    """The checkpoint holds another architecture than the one asked for."""


class ShapeMismatchError(CheckpointError):
    """The saved weights do not fit the architecture their config describes."""


class InvalidInputError(ModelError, ValueError):
    """Input that a model cannot take: wrong shape, out of range, not finite."""
