"""Bodies of the health and model-information endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.core.repository import ModelState


class Liveness(BaseModel):
    status: str = Field("alive", examples=["alive"])


class ModelHealth(BaseModel):
    state: ModelState
    reason: str | None = Field(None, description="Why the model is not ready, when it is not.")


class Readiness(BaseModel):
    status: ModelState = Field(description="ready only when every model is ready.", examples=["ready"])
    detail: str | None = Field(None, description="What keeps the service from being ready.")
    models: dict[str, ModelHealth]


class CheckpointInfo(BaseModel):
    path: str = Field(examples=["checkpoints/mnist.pt"])
    sha256: str
    size_bytes: int


class ModelInfo(BaseModel):
    name: str = Field(examples=["mnist"])
    description: str | None = None
    architecture: str | None = Field(None, examples=["softmax_regression"])
    state: ModelState
    reason: str | None = None
    version: str | None = Field(None, examples=["20261124.120000"])
    device: str | None = Field(None, examples=["cpu"])
    load_seconds: float | None = None
    input: dict[str, Any] | None = Field(
        None, description="What the model takes, from its checkpoint's config."
    )
    metrics: dict[str, Any] | None = Field(None, description="Metrics recorded at training time.")
    training: dict[str, Any] | None = Field(None, description="Other training facts from the checkpoint.")
    checkpoint: CheckpointInfo | None = None


class ModelList(BaseModel):
    models: list[ModelInfo]
