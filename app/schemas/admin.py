"""Bodies of the /admin endpoints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"path": "mnist-v2.pt"}, {}]})

    path: str | None = Field(
        None,
        min_length=1,
        description="Checkpoint file to load, relative to the reload directory (SERVE_RELOAD_DIR) or "
        "absolute inside it. Left out: the model's configured checkpoint, read again.",
        examples=["mnist-v2.pt"],
    )


class ReloadResponse(BaseModel):
    name: str = Field(examples=["mnist"])
    architecture: str = Field(examples=["softmax_regression"])
    version: str = Field(description="The version now serving.", examples=["20261201.090000"])
    previous_version: str | None = Field(
        description="The version it replaced; null when the model had not loaded before.",
        examples=["20261124.120000"],
    )
    sha256: str = Field(description="SHA-256 of the checkpoint file now serving.")
    path: str = Field(examples=["checkpoints/mnist-v2.pt"])
    load_seconds: float = Field(description="Time taken to read and check the checkpoint.")
