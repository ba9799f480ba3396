"""A model's optional ``config.json``: which versions serve, which one is the default, whether it is loaded.

    <repository>/<name>/config.json
    {
      "version_policy": {"latest": {"num_versions": 2}},  # or {"all": {}} or {"specific": {"versions": [1]}}
      "default_version": 2,                                 # pinned; absent: the latest version serving
      "unloaded": false                                     # true: the model serves nothing
    }

Every field is optional; no file means the latest version serves. Operators write it by hand; the admin
API rewrites it (atomically, keeping the other fields), which is how a pin or an unload reaches every
worker and survives restarts. The policy reads like Triton's ``version_policy``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from models.files import atomic_file
from models.repository import CONFIG_FILE

MAX_CONFIG_BYTES = 64 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Latest(_Strict):
    num_versions: PositiveInt = 1


class Specific(_Strict):
    versions: list[PositiveInt] = Field(min_length=1)


class VersionPolicy(_Strict):
    latest: Latest | None = None
    all: dict[str, Any] | None = None
    specific: Specific | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> VersionPolicy:
        kinds = [k for k in ("latest", "all", "specific") if getattr(self, k) is not None]
        if len(kinds) > 1:
            raise ValueError(f"choose one of latest, all or specific, not {' and '.join(kinds)}")
        return self

    def select(self, versions: list[int]) -> list[int]:
        """The versions (ascending) this policy serves, out of the ``versions`` on disk (ascending)."""
        if self.all is not None:
            return versions
        if self.specific is not None:
            return [v for v in versions if v in self.specific.versions]
        count = self.latest.num_versions if self.latest is not None else 1
        return versions[-count:]

    def describe(self) -> str:
        if self.all is not None:
            return "all"
        if self.specific is not None:
            return "specific " + ", ".join(map(str, self.specific.versions))
        return f"latest {self.latest.num_versions if self.latest else 1}"


class ModelConfig(_Strict):
    version_policy: VersionPolicy = VersionPolicy()
    default_version: PositiveInt | None = None
    unloaded: bool = False


class ModelConfigError(ValueError):
    """The config file exists but cannot be used; the message names the file and the problem."""


def config_path(model_dir: Path) -> Path:
    return model_dir / CONFIG_FILE


def read_config(model_dir: Path) -> ModelConfig:
    """The model's config; the defaults when there is no file; ModelConfigError for a bad one."""
    path = config_path(model_dir)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return ModelConfig()
    except OSError as exc:
        raise ModelConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ModelConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return ModelConfig.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise ModelConfigError(f"{path}: {problems}") from None


def update_config(model_dir: Path, **changes: Any) -> ModelConfig:
    """Rewrite the model's config with ``changes`` (None removes a field), atomically; the new config.

    The caller holds the model's lock (models.repository.locked), so two admin calls cannot interleave.
    """
    current = read_config(model_dir)
    fields = {**current.model_dump(exclude_defaults=True), **changes}
    fields = {k: v for k, v in fields.items() if v is not None}
    config = ModelConfig.model_validate_json(json.dumps(fields))
    with atomic_file(config_path(model_dir), "w") as f:
        f.write(json.dumps(config.model_dump(mode="json", exclude_defaults=True), indent=2) + "\n")
    return config
