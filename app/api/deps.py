"""Dependencies shared by the routes, as Annotated aliases.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a thread
hop per dependency per request that costs far more than these attribute reads.
"""

from __future__ import annotations

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


# The hot path's dependencies read app.state directly: each nested dependency costs a solve per request.
async def get_logistic_model(request: Request) -> Checkpoint:
    return request.app.state.registry.get("logistic")


async def get_mnist_model(request: Request) -> Checkpoint:
    return request.app.state.registry.get("mnist")


LogisticModelDep = Annotated[Checkpoint, Depends(get_logistic_model)]
MnistModelDep = Annotated[Checkpoint, Depends(get_mnist_model)]


async def get_logistic_runner(request: Request) -> Runner:
    return request.app.state.runners["logistic"]


async def get_mnist_runner(request: Request) -> Runner:
    return request.app.state.runners["mnist"]


LogisticRunnerDep = Annotated[Runner, Depends(get_logistic_runner)]
MnistRunnerDep = Annotated[Runner, Depends(get_mnist_runner)]
