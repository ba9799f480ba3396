"""The gRPC server of a worker: GRPCInferenceService and grpc.health.v1 on SERVE_GRPC_PORT.

It runs on the worker's own event loop, beside uvicorn, and calls the same data plane as REST: one
process, two ports, one set of models and runners (micro-batching gathers REST and gRPC calls alike).
With several workers each one binds the port with SO_REUSEPORT and the kernel spreads connections over
them (`serve` first checks that no other server holds the port).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from tritonclient.grpc import service_pb2_grpc

from app.grpc_server.interceptors import INFERENCE_SERVICE, ServingInterceptor
from app.grpc_server.service import InferenceServicer
from app.settings import Settings

log = logging.getLogger(__name__)

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
_HEALTH_POLL_SECONDS = 1.0


class GrpcPortInUseError(RuntimeError):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"gRPC port {host}:{port} is in use: set SERVE_GRPC_PORT to a free port, "
            "or SERVE_GRPC_ENABLED=false to serve REST only"
        )


def server_options(settings: Settings) -> list[tuple[str, int]]:
    return [
        # The largest message a client may send: the same byte limit as a REST body.
        ("grpc.max_receive_message_length", settings.request_body_limit),
        # Every worker binds the port and the kernel spreads connections over them; `serve` has checked
        # that no other server holds it.
        ("grpc.so_reuseport", 1),
        # An idle connection is closed like an idle keep-alive HTTP connection, only later.
        ("grpc.max_connection_idle_ms", 60_000),
    ]


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _report_readiness(health_servicer: health.aio.HealthServicer, servicer: InferenceServicer) -> None:
    """Keep the inference service's health in step with the models' readiness (Kubernetes' gRPC probes)."""
    while True:
        ready = servicer.is_ready()
        await health_servicer.set(INFERENCE_SERVICE, _SERVING if ready else _NOT_SERVING)
        await asyncio.sleep(_HEALTH_POLL_SECONDS)


@contextlib.asynccontextmanager
async def grpc_serving(servicer: InferenceServicer, settings: Settings) -> AsyncIterator[int]:
    """Serve gRPC for as long as the block runs; yields the bound port. On exit calls in flight finish."""
    server = grpc.aio.server(
        interceptors=[ServingInterceptor(settings.api_key, access_log=settings.access_log)],
        options=server_options(settings),
        maximum_concurrent_rpcs=settings.limit_concurrency,
    )
    service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    try:
        port = server.add_insecure_port(_address(settings.grpc_host, settings.grpc_port))
    except RuntimeError:
        port = 0
    if port == 0:
        raise GrpcPortInUseError(settings.grpc_host, settings.grpc_port)
    await server.start()
    reporter = asyncio.create_task(_report_readiness(health_servicer, servicer))
    log.info("gRPC serving the Open Inference Protocol on %s", _address(settings.grpc_host, port))
    try:
        yield port
    finally:
        reporter.cancel()
        await health_servicer.enter_graceful_shutdown()  # probes see NOT_SERVING from now on
        # New calls are refused at once; those in flight get the same grace as HTTP requests.
        await server.stop(settings.graceful_timeout_seconds)
        log.info("gRPC stopped")
