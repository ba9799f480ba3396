"""The ASGI application: ``uvicorn app.main:app``. Building it is cheap; models load in the lifespan."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

import torch
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app.api.fast_lane import FastLane, PredictionLane
from app.api.openapi import operation_id, use_component_schemas
from app.api.routes import admin, docs, health, metrics, models, page, predict, repository, v2, weights
from app.core.control import LoadLimits, ModelControl
from app.core.dataplane import DataPlane, RunnerOptions
from app.core.repository import ModelRepository
from app.errors import install_error_handlers
from app.grpc_server.server import grpc_serving
from app.grpc_server.service import InferenceServicer
from app.observability.body_limit import BodyLimitMiddleware, BodyLimits
from app.observability.hosts import TrustedHostMiddleware, TrustedHosts
from app.observability.logs import route_warnings_to_logging
from app.observability.metrics import worker_metrics
from app.observability.middleware import ObservabilityMiddleware, RequestObserver
from app.observability.tracing import TELEMETRY_OFF, TELEMETRY_ON, TracedModelRepository
from app.security import RequireApiKey
from app.settings import Settings, get_settings
from models import resolve_device

log = logging.getLogger(__name__)

DESCRIPTION = """
Predictions from the models of a model repository, any number of them and of their versions. Two
are there by default:

* **logistic** — a logistic regression on two numeric features (`POST /predict/logistic`);
* **mnist** — a softmax regression that reads 28x28 handwritten digits, from image files
  (`POST /predict/mnist`) or pixel arrays (`POST /predict/mnist/pixels`).

Any other model answers at `POST /predict/{name}`; `?version=N` picks a version. `GET /models` lists
them all, the Open Inference Protocol serves them under `/v2`, and `/admin` operates the repository.

[Draw a digit](/) on the service's own page and watch the prediction as you draw.
"""


def make_dataplane(settings: Settings) -> DataPlane:
    """The data plane every front end calls; predictions inline, or micro-batched with SERVE_BATCHING."""
    runners = RunnerOptions(
        batching=settings.batching, max_size=settings.batch_max_size, max_wait_ms=settings.batch_max_wait_ms
    )
    # With OpenTelemetry on, every hand-out of a model names it on the request's span.
    repository = TracedModelRepository() if settings.opentelemetry else ModelRepository()
    return DataPlane(repository, max_batch_size=settings.max_batch_size, runners=runners)


def _grpc(app: FastAPI) -> AbstractAsyncContextManager:
    """gRPC beside REST in the app of digit-serve (create_app(grpc=True)), unless SERVE_GRPC_ENABLED=false."""
    settings: Settings = app.state.settings
    if not (app.state.grpc and settings.grpc_enabled):
        return nullcontext()
    return grpc_serving(InferenceServicer(app.state.dataplane, app.state.control, app.version), settings)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    device = resolve_device(settings.device)  # cuda without a GPU stops start-up here, with the reason
    dataplane, control = app.state.dataplane, app.state.control
    # torch's CPU threads for one operation: inference runs on the event loop, and with more threads than
    # the worker has a core for, they wait on each other: on a busy machine a 64-image pixel check took a
    # median 30 ms and 280 ms at worst with two threads, under 1 ms and 7 ms with one.
    torch.set_num_threads(settings.torch_threads)
    dataplane.start()
    try:
        await control.start(device)
        # What start-up made (modules, torch, the models) lives as long as the worker: frozen, the cyclic
        # garbage collector's full passes stop walking it, and stop stalling the loop (300 ms each before).
        gc.freeze()
        async with worker_metrics(), _grpc(app):
            yield
    finally:
        gc.unfreeze()  # collectable again: tests start many apps in one process
        await control.stop()
        await dataplane.stop()


def create_app(settings: Settings | None = None, *, grpc: bool = False) -> FastAPI:
    """The app. ``grpc``: it is the process's own (``digit-serve``) and serves gRPC on SERVE_GRPC_PORT too."""
    settings = settings or get_settings()
    # Swagger UI and ReDoc assets are served by the app itself, so /docs works without internet.
    app = FastAPIOffline(
        title="Digit & logistic prediction service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry=TELEMETRY_ON if settings.opentelemetry else TELEMETRY_OFF,
        generate_unique_id_function=operation_id,  # predictLogistic, not predict_logistic_route_predict_...
        # /models/ is not /models: a redirect would be built from the client's Host header, and an API
        # client follows it with a second request anyway.
        redirect_slashes=False,
        redoc_url=None,  # app/api/routes/docs.py serves ReDoc, without the logo fastapi-offline's fetches
    )
    use_component_schemas(app)
    app.state.settings = settings
    app.state.grpc = grpc
    app.state.dataplane = make_dataplane(settings)
    app.state.control = ModelControl(
        app.state.dataplane,
        settings.model_repository,
        explicit=settings.repository_mode == "explicit",
        poll_seconds=settings.repository_poll_seconds,
        limits=LoadLimits(settings.max_checkpoint_bytes, settings.checkpoint_read_timeout_seconds),
    )
    app.state.heavy_work = asyncio.Semaphore(1)  # see app/api/heavy_work.py
    install_error_handlers(app)
    # Whatever serves or describes a model wants the API key when one is set; probes and docs stay open.
    # With no key configured the check is left off entirely (and the docs advertise no scheme): a
    # dependency costs a solve per request even when it has nothing to check.
    key_guard = [RequireApiKey] if settings.api_key is not None else []
    predict.add_routes(app, dependencies=key_guard)
    app.include_router(models.router, dependencies=key_guard)
    app.include_router(weights.router, dependencies=key_guard)
    app.include_router(v2.model_router, dependencies=key_guard)
    for module in (health, page, docs, v2):
        app.include_router(module.router)
    app.include_router(admin.router)  # wants the key always, and is off without one
    app.include_router(repository.router)  # the same
    # Scrapers often cannot send a key, so /metrics wants one only with SERVE_METRICS_REQUIRE_KEY.
    app.include_router(metrics.router, dependencies=key_guard if settings.metrics_require_key else [])
    body_limits = BodyLimits(multipart=settings.request_body_limit, json=settings.json_body_limit)
    trusted_hosts = None if "*" in settings.trusted_hosts else TrustedHosts(settings.trusted_hosts)
    observer = RequestObserver(access_log=settings.access_log, debug=settings.debug)
    # The plain predictions, ahead of FastAPI's routing (fast_lane.py), and served by the HTTP front
    # (http_protocol.py) without ASGI, which finds the lane here.
    app.state.prediction_lane = None
    if not settings.opentelemetry:
        lane = PredictionLane(app, observer=observer, body_limits=body_limits, trusted_hosts=trusted_hosts)
        app.state.prediction_lane = lane
        app.add_middleware(FastLane, lane=lane)
    app.add_middleware(BodyLimitMiddleware, limits=body_limits)
    if trusted_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, hosts=trusted_hosts)
    # The last added runs first: requests refused by the body limit are counted and logged too.
    app.add_middleware(ObservabilityMiddleware, observer=observer)
    return app


route_warnings_to_logging()
app = create_app(grpc=True)
