"""What is being served: each model's versions, checkpoints, training metrics, inputs, device."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter

from app.api.deps import DataPlaneDep
from app.core.repository import ModelEntry
from app.schemas.errors import error_responses
from app.schemas.health import CheckpointInfo, ModelInfo, ModelList

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", summary="List the served models", response_model=ModelList)
async def list_models(dataplane: DataPlaneDep) -> ModelList:
    return ModelList(models=[model_info(entry) for entry in dataplane.repository.models.values()])


@router.get(
    "/{name}",
    summary="Describe one served model",
    response_model=ModelInfo,
    responses=error_responses({404: "No model of that name."}),
)
async def get_model(name: str, dataplane: DataPlaneDep) -> ModelInfo:
    return model_info(dataplane.repository.model(name))


def model_info(entry: ModelEntry) -> ModelInfo:
    servable = entry.default
    info = ModelInfo(name=entry.name, state=entry.state, reason=entry.reason)
    if servable is None:
        return info
    checkpoint = servable.checkpoint
    training = {k: v for k, v in checkpoint.metadata.items() if k != "metrics"}
    loaded = entry.versions[servable.version]
    return info.model_copy(
        update={
            "description": servable.description,
            "architecture": servable.architecture,
            "version": servable.version,
            "device": str(checkpoint.device),
            "load_seconds": loaded.load_seconds,
            "input": dataclasses.asdict(checkpoint.config),
            "metrics": checkpoint.metadata.get("metrics", {}),
            "training": training,
            "checkpoint": CheckpointInfo(
                path=checkpoint.path, sha256=checkpoint.sha256, size_bytes=checkpoint.size_bytes
            ),
        }
    )
