"""What is being served: every model in the repository, its versions and their states, and what each
default version was trained on."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter

from app.api.deps import DataPlaneDep
from app.core.repository import ModelEntry, ModelVersion
from app.schemas.errors import error_responses
from app.schemas.health import CheckpointInfo, ModelInfo, ModelList, VersionInfo

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", summary="List every model, its versions and their states", response_model=ModelList)
async def list_models(dataplane: DataPlaneDep) -> ModelList:
    return ModelList(models=[model_info(entry) for entry in dataplane.repository.models.values()])


@router.get(
    "/{name}",
    summary="Describe one model, its versions and its default version",
    response_model=ModelInfo,
    responses=error_responses({404: "No model of that name."}),
)
async def get_model(name: str, dataplane: DataPlaneDep) -> ModelInfo:
    return model_info(dataplane.repository.model(name))


def version_info(version: ModelVersion) -> VersionInfo:
    servable = version.servable
    return VersionInfo(
        version=version.version,
        state=version.state,
        reason=version.reason,
        path=str(version.path),
        load_seconds=version.load_seconds,
        checkpoint_version=servable.checkpoint.version if servable is not None else None,
    )


def model_info(entry: ModelEntry) -> ModelInfo:
    servable = entry.default
    info = ModelInfo(
        name=entry.name,
        state=entry.state,
        reason=entry.reason,
        pinned_version=entry.pinned,
        version_policy=entry.config.version_policy.describe(),
        config_error=entry.config_error,
        versions=[version_info(v) for v in entry.versions.values()],
    )
    if servable is None:
        return info
    checkpoint = servable.checkpoint
    training = {k: v for k, v in checkpoint.metadata.items() if k != "metrics"}
    return info.model_copy(
        update={
            "description": checkpoint.metadata.get("description") or servable.description,
            "architecture": servable.architecture,
            "version": servable.version,
            "device": str(checkpoint.device),
            "load_seconds": entry.versions[servable.version].load_seconds,
            "input": dataclasses.asdict(checkpoint.config),
            "metrics": checkpoint.metadata.get("metrics", {}),
            "training": training,
            "checkpoint": CheckpointInfo(
                path=checkpoint.path, sha256=checkpoint.sha256, size_bytes=checkpoint.size_bytes
            ),
        }
    )
