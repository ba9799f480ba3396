"""The model repository RPCs through tritonclient.grpc: index, load, unload, behind the admin key, as REST."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from conftest import served_settings
from live_server import serve
from pydantic import SecretStr
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc
from tritonclient.utils import InferenceServerException

from app.main import create_app
from app.security import MISSING_KEY

from .conftest import grpc_settings

KEY = "grpc-repository-key-0123456789"
HEADERS = {"x-api-key": KEY}
FEATURES = np.array([[4.0, 3.0]], dtype=np.float32)


@dataclass(frozen=True)
class Clients:
    triton: triton.InferenceServerClient
    stub: service_pb2_grpc.GRPCInferenceServiceStub
    http: httpx.Client


@pytest.fixture
def clients(tmp_path) -> Iterator[Clients]:
    """A server of its own for each test, as the tests change what it serves."""
    settings = grpc_settings(served_settings(tmp_path), api_key=SecretStr(KEY))
    address = f"127.0.0.1:{settings.grpc_port}"
    with (
        serve(create_app(settings, grpc=True)) as live,
        httpx.Client(base_url=live.url, headers=HEADERS) as http,
        grpc.insecure_channel(address) as channel,
    ):
        client = triton.InferenceServerClient(address)
        yield Clients(client, service_pb2_grpc.GRPCInferenceServiceStub(channel), http)
        client.close()


@pytest.fixture
def client(clients: Clients) -> triton.InferenceServerClient:
    return clients.triton


@pytest.fixture
def stub(clients: Clients) -> service_pb2_grpc.GRPCInferenceServiceStub:
    return clients.stub


@pytest.fixture
def http(clients: Clients) -> httpx.Client:
    return clients.http


def _index(client: triton.InferenceServerClient) -> list[dict[str, str]]:
    return client.get_model_repository_index(headers=HEADERS, as_json=True)["models"]


def _infer_logistic(client: triton.InferenceServerClient) -> InferenceServerException:
    tensor = triton.InferInput("features", list(FEATURES.shape), "FP32")
    tensor.set_data_from_numpy(FEATURES)
    with pytest.raises(InferenceServerException) as caught:
        client.infer("logistic", [tensor], headers=HEADERS)
    return caught.value


def test_grpc_repository_index_lists_every_version_and_state(client):
    assert _index(client) == [
        {"name": "logistic", "version": "1", "state": "READY"},  # protobuf's JSON leaves out empty strings
        {"name": "mnist", "version": "1", "state": "READY"},
    ]


def test_grpc_repository_index_equals_rest_after_an_unload(client, http):
    client.unload_model("logistic", headers=HEADERS)
    rest = http.post("/v2/repository/index").json()
    assert [{"reason": "", **entry} for entry in _index(client)] == rest
    assert rest[0] == {"name": "logistic", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"}


def test_grpc_repository_index_ready_only(client, stub):
    client.unload_model("logistic", headers=HEADERS)
    ready = stub.RepositoryIndex(pb.RepositoryIndexRequest(ready=True), metadata=list(HEADERS.items()))
    assert [(m.name, m.version, m.state) for m in ready.models] == [("mnist", "1", "READY")]


def test_grpc_unload_makes_the_model_not_ready(client):
    client.unload_model("logistic", headers=HEADERS)
    assert not client.is_model_ready("logistic", headers=HEADERS)
    assert client.is_model_ready("mnist", headers=HEADERS)


def test_grpc_infer_on_an_unloaded_model_is_unavailable_as_in_rest(client, http):
    client.unload_model("logistic", headers=HEADERS)
    refused = _infer_logistic(client)
    rest = http.post(
        "/v2/models/logistic/infer",
        json={"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 2], "data": [4.0, 3.0]}]},
    )
    assert (refused.status(), refused.message()) == ("StatusCode.UNAVAILABLE", "model 'logistic' is unloaded")
    assert (rest.status_code, rest.json()) == (503, {"error": "model 'logistic' is unloaded"})


def test_grpc_load_brings_an_unloaded_model_back(client):
    client.unload_model("logistic", headers=HEADERS)
    client.load_model("logistic", headers=HEADERS)
    assert client.is_model_ready("logistic", headers=HEADERS)
    assert _index(client)[0] == {"name": "logistic", "version": "1", "state": "READY"}


@pytest.mark.parametrize("call", ["load_model", "unload_model"])
def test_grpc_repository_unknown_model_is_not_found(client, call):
    with pytest.raises(InferenceServerException) as caught:
        getattr(client, call)("nope", headers=HEADERS)
    assert caught.value.status() == "StatusCode.NOT_FOUND"
    assert caught.value.message() == "unknown model 'nope'; available: logistic, mnist"


def test_grpc_load_with_a_config_is_invalid_argument(client):
    with pytest.raises(InferenceServerException) as caught:
        client.load_model("logistic", headers=HEADERS, config='{"backend": "python"}')
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert caught.value.message() == (
        "this server loads models only from its repository: a config or files cannot be sent"
    )


@pytest.mark.parametrize(
    ("call", "args"),
    [("get_model_repository_index", ()), ("load_model", ("logistic",)), ("unload_model", ("logistic",))],
)
def test_grpc_repository_without_key_is_unauthenticated(client, call, args):
    with pytest.raises(InferenceServerException) as caught:
        getattr(client, call)(*args)
    assert (caught.value.status(), caught.value.message()) == ("StatusCode.UNAUTHENTICATED", MISSING_KEY)
    assert client.is_model_ready("logistic", headers=HEADERS)
