"""A live server with gRPC on a free port, and clients for it: tritonclient.grpc, the bare stub, httpx."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import httpx
import pytest
import tritonclient.grpc as triton
from conftest import served_settings
from live_server import LiveServer, free_port, serve
from tritonclient.grpc import service_pb2_grpc

from app.main import create_app
from app.settings import Settings

# Small enough for a test to exceed, large enough for a full batch of FP32 images (64 x 784 x 4 bytes).
MAX_REQUEST_BYTES = 300_000


@dataclass(frozen=True)
class GrpcServer:
    http: LiveServer
    grpc_address: str
    settings: Settings


def grpc_settings(settings: Settings, **overrides) -> Settings:
    return settings.model_copy(update={"grpc_port": free_port(), "grpc_host": "127.0.0.1", **overrides})


@pytest.fixture(scope="module")
def grpc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    served = served_settings(tmp_path_factory.mktemp("checkpoints"))
    settings = grpc_settings(served, max_request_bytes=MAX_REQUEST_BYTES)
    with serve(create_app(settings, grpc=True)) as server:
        yield GrpcServer(server, f"127.0.0.1:{settings.grpc_port}", settings)


@pytest.fixture(scope="module")
def triton_client(grpc_server: GrpcServer) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(grpc_server.grpc_address)
    yield client
    client.close()


@pytest.fixture(scope="module")
def stub(grpc_server: GrpcServer) -> Iterator[service_pb2_grpc.GRPCInferenceServiceStub]:
    """The protocol's stub on a plain channel, for what tritonclient does not let a caller send."""
    with grpc.insecure_channel(grpc_server.grpc_address) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


@pytest.fixture(scope="module")
def http(grpc_server: GrpcServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=grpc_server.http.url) as client:
        yield client
