"""The ASGI application: ``uvicorn app.main:app``. Building it is cheap; models load in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app.api.routes import admin, health, models, page, predict, v2
from app.errors import install_error_handlers
from app.registry import ModelRegistry, ModelSpec
from app.security import RequireApiKey
from app.settings import Settings, get_settings
from models import LogisticRegression, SoftmaxRegression, resolve_device

log = logging.getLogger(__name__)

DESCRIPTION = """
Predictions from two classic PyTorch models:

* **logistic** — a logistic regression on two numeric features (`POST /predict/logistic`);
* **mnist** — a softmax regression that reads 28x28 handwritten digits, from image files
  (`POST /predict/mnist`) or pixel arrays (`POST /predict/mnist/pixels`).

[Draw a digit](/) on the service's own page and watch the prediction as you draw.
"""


def model_specs(settings: Settings) -> list[ModelSpec]:
    return [
        ModelSpec(
            name="logistic",
            architecture=LogisticRegression.architecture,
            checkpoint_path=settings.logistic_checkpoint,
            description="Binary logistic regression on 2 features (x1, x2): P(y=1) and a label.",
        ),
        ModelSpec(
            name="mnist",
            architecture=SoftmaxRegression.architecture,
            checkpoint_path=settings.mnist_checkpoint,
            description="Softmax regression on 28x28 MNIST digits: the digit and its ten probabilities.",
        ),
    ]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    device = resolve_device(settings.device)  # cuda without a GPU stops start-up here, with the reason
    app.state.registry.load_all(device)
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Swagger UI and ReDoc assets are served by the app itself, so /docs works without internet.
    app = FastAPIOffline(
        title="Digit & logistic prediction service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.registry = ModelRegistry(model_specs(settings))
    install_error_handlers(app)
    for module in (health, page):
        app.include_router(module.router)
    app.include_router(v2.router)  # the Open Inference Protocol's probes and server metadata
    # Whatever serves or describes a model wants the API key when one is set; probes and docs stay open.
    for module in (models, predict):
        app.include_router(module.router, dependencies=[RequireApiKey])
    app.include_router(v2.model_router, dependencies=[RequireApiKey])
    app.include_router(admin.router)  # wants the key always, and is off without one
    return app


app = create_app()
