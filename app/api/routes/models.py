"""What is being served: versions, checkpoints, training metrics, inputs, device."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter

from app.api.deps import RegistryDep
from app.registry import ModelSlot
from app.schemas.errors import error_responses
from app.schemas.health import CheckpointInfo, ModelInfo, ModelList

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", summary="List the served models", response_model=ModelList)
async def list_models(registry: RegistryDep) -> ModelList:
    return ModelList(models=[model_info(slot) for slot in registry.slots.values()])


@router.get(
    "/{name}",
    summary="Describe one served model",
    response_model=ModelInfo,
    responses=error_responses({404: "No model of that name."}),
)
async def get_model(name: str, registry: RegistryDep) -> ModelInfo:
    return model_info(registry.slot(name))


def model_info(slot: ModelSlot) -> ModelInfo:
    spec, checkpoint = slot.spec, slot.checkpoint
    info = ModelInfo(
        name=spec.name,
        description=spec.description,
        architecture=spec.architecture,
        state=slot.state,
        reason=slot.reason,
    )
    if checkpoint is None:
        return info
    training = {k: v for k, v in checkpoint.metadata.items() if k != "metrics"}
    return info.model_copy(
        update={
            "version": checkpoint.version,
            "device": str(checkpoint.device),
            "load_seconds": slot.load_seconds,
            "input": dataclasses.asdict(checkpoint.config),
            "metrics": checkpoint.metadata.get("metrics", {}),
            "training": training,
            "checkpoint": CheckpointInfo(
                path=checkpoint.path, sha256=checkpoint.sha256, size_bytes=checkpoint.size_bytes
            ),
        }
    )
