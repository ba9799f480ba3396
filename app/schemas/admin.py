"""Bodies of the /admin endpoints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveInt


class PinRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"version": 1}, {"version": None}]}
    )

    version: PositiveInt | None = Field(
        description="The version to pin as the default; null: the latest version serving.", examples=[1]
    )
