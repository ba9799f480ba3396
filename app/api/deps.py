"""Dependencies shared by the routes, as Annotated aliases.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a thread
hop per dependency per request that costs far more than these attribute reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.batching import Runner
from app.registry import ModelRegistry
from app.settings import Settings
from models import Checkpoint


async def get_registry(request: Request) -> ModelRegistry:
    return request.app.state.registry


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


# The hot path takes ONE dependency per route: FastAPI's solve costs tens of microseconds per node per
# request, more than the model itself, so what a prediction needs is read from app.state in one go.
@dataclass(frozen=True, slots=True)
class Serving:
    """What a prediction route needs: the model's checkpoint, its runner and the settings (for limits)."""

    checkpoint: Checkpoint
    runner: Runner
    settings: Settings


def _serving(request: Request, name: str) -> Serving:
    state = request.app.state
    return Serving(state.registry.get(name), state.runners[name], state.settings)


async def get_logistic_serving(request: Request) -> Serving:
    return _serving(request, "logistic")


async def get_mnist_serving(request: Request) -> Serving:
    return _serving(request, "mnist")


LogisticServingDep = Annotated[Serving, Depends(get_logistic_serving)]
MnistServingDep = Annotated[Serving, Depends(get_mnist_serving)]
