"""The two models, their configs and the checkpoint format: shared by training and serving, pure torch."""

from models.checkpoint import ARCHITECTURES, FORMAT_VERSION, Checkpoint, load, save
from models.device import DeviceUnavailableError, resolve_device
from models.errors import (
    ArchitectureMismatchError,
    CheckpointCorruptError,
    CheckpointError,
    CheckpointNotFoundError,
    CheckpointTooLargeError,
    InvalidInputError,
    ModelError,
    ShapeMismatchError,
)
from models.logistic import FrozenLogistic, LogisticConfig, LogisticRegression
from models.softmax import MnistConfig, SoftmaxRegression

__all__ = [
    "ARCHITECTURES",
    "FORMAT_VERSION",
    "ArchitectureMismatchError",
    "Checkpoint",
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointNotFoundError",
    "CheckpointTooLargeError",
    "DeviceUnavailableError",
    "FrozenLogistic",
    "InvalidInputError",
    "LogisticConfig",
    "LogisticRegression",
    "MnistConfig",
    "ModelError",
    "ShapeMismatchError",
    "SoftmaxRegression",
    "load",
    "resolve_device",
    "save",
]
