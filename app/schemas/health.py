"""Bodies of the health and model-information endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.core.repository import ModelState, VersionState


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
    path: str = Field(examples=["model_repository/mnist/1.pt"])
    sha256: str
    size_bytes: int


class VersionInfo(BaseModel):
    version: str = Field(examples=["2"])
    state: VersionState = Field(description="loading, ready, failed (see reason) or unloaded.")
    reason: str | None = Field(
        None, description="Why it failed to load; for a ready version, why its file was last refused."
    )
    path: str = Field(examples=["model_repository/mnist/2.pt"])
    load_seconds: float | None = None
    checkpoint_version: str | None = Field(
        None,
        description="The version the training run recorded in the checkpoint.",
        examples=["20261124.120000"],
    )


class ModelInfo(BaseModel):
    name: str = Field(examples=["mnist"])
    description: str | None = None
    architecture: str | None = Field(None, examples=["softmax_regression"])
    state: ModelState
    reason: str | None = None
    version: str | None = Field(
        None, description="The default version: what a request without a version gets.", examples=["2"]
    )
    pinned_version: str | None = Field(None, description="The default version an operator pinned, if any.")
    version_policy: str = Field(description="Which versions serve.", examples=["latest 1", "all"])
    config_error: str | None = Field(None, description="Why the model's config.json is not used, if not.")
    versions: list[VersionInfo] = Field(default_factory=list, description="Every version, in order.")
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
