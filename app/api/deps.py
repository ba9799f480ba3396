"""Dependencies shared by the routes, as Annotated aliases.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a thread
hop per dependency per request that costs far more than these attribute reads.
"""

from __future__ import annotations

from typing import Annotated, NamedTuple

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


# The prediction routes take no dependency at all for what they need: FastAPI's solve costs about ten
# microseconds per dependency per request, more than the model itself, so they call serving_for().
class Serving(NamedTuple):  # a tuple: built per request, and cheaper to build than a frozen dataclass
    """What a prediction route needs: the model's checkpoint, its runner and the settings (for limits)."""

    checkpoint: Checkpoint
    runner: Runner
    settings: Settings


def serving_for(request: Request, name: str) -> Serving:
    """The served checkpoint of model ``name`` (ModelNotReadyError while it is not loaded), and its runner."""
    state = request.app.state
    return Serving(state.registry.get(name), state.runners[name], state.settings)
