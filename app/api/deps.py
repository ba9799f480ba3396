"""Dependencies shared by the routes, as Annotated aliases.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a thread
hop per dependency per request that costs far more than these attribute reads. The prediction routes take
no dependency at all (FastAPI's solve costs about ten microseconds per dependency per request, more than
the model itself): they read ``request.app.state`` themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.core.control import ModelControl
from app.core.dataplane import DataPlane
from app.settings import Settings


async def get_dataplane(request: Request) -> DataPlane:
    return request.app.state.dataplane


async def get_control(request: Request) -> ModelControl:
    return request.app.state.control


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


DataPlaneDep = Annotated[DataPlane, Depends(get_dataplane)]
ControlDep = Annotated[ModelControl, Depends(get_control)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
