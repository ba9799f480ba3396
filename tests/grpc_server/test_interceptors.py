"""The API key over gRPC, as in REST: Bearer or x-api-key metadata; probes open; repository RPCs guarded."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from conftest import served_settings
from live_server import serve
from pydantic import SecretStr
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

from app.grpc_server.interceptors import presented_key
from app.main import create_app
from app.security import ADMIN_DISABLED, INVALID_KEY, MISSING_KEY

from .conftest import grpc_settings

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def keyed_stub(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[service_pb2_grpc.GRPCInferenceServiceStub]:
    settings = grpc_settings(served_settings(tmp_path_factory.mktemp("checkpoints")), api_key=SecretStr(KEY))
    with (
        serve(create_app(settings, grpc=True)),
        grpc.insecure_channel(f"127.0.0.1:{settings.grpc_port}") as channel,
    ):
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def _code(call, request, metadata=()) -> tuple[grpc.StatusCode, str]:
    try:
        call(request, metadata=metadata)
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


METADATA = pb.ModelMetadataRequest(name="mnist")


def test_grpc_without_key_is_unauthenticated(keyed_stub):
    assert _code(keyed_stub.ModelMetadata, METADATA) == (grpc.StatusCode.UNAUTHENTICATED, MISSING_KEY)


def test_grpc_wrong_key_is_unauthenticated(keyed_stub):
    answer = _code(keyed_stub.ModelMetadata, METADATA, [("x-api-key", "nope")])
    assert answer == (grpc.StatusCode.UNAUTHENTICATED, INVALID_KEY)


@pytest.mark.parametrize(
    "metadata", [[("authorization", f"Bearer {KEY}")], [("x-api-key", KEY)]], ids=["bearer", "x-api-key"]
)
def test_grpc_key_in_metadata_is_accepted(keyed_stub, metadata):
    assert _code(keyed_stub.ModelMetadata, METADATA, metadata) == (grpc.StatusCode.OK, "")


def test_grpc_probes_need_no_key(keyed_stub):
    assert _code(keyed_stub.ServerLive, pb.ServerLiveRequest()) == (grpc.StatusCode.OK, "")
    assert _code(keyed_stub.ServerReady, pb.ServerReadyRequest()) == (grpc.StatusCode.OK, "")


def test_grpc_model_infer_needs_the_key(keyed_stub):
    request = pb.ModelInferRequest(model_name="mnist")
    assert _code(keyed_stub.ModelInfer, request)[0] == grpc.StatusCode.UNAUTHENTICATED


def test_grpc_repository_needs_the_key(keyed_stub):
    request = pb.RepositoryIndexRequest()
    assert _code(keyed_stub.RepositoryIndex, request) == (grpc.StatusCode.UNAUTHENTICATED, MISSING_KEY)


def test_grpc_repository_is_off_without_a_configured_key(stub):
    answer = _code(stub.RepositoryIndex, pb.RepositoryIndexRequest(), [("x-api-key", KEY)])
    assert answer == (grpc.StatusCode.PERMISSION_DENIED, ADMIN_DISABLED)


def test_presented_key_prefers_bearer():
    assert presented_key({"authorization": "Bearer a", "x-api-key": "b"}) == "a"


def test_presented_key_ignores_other_schemes():
    assert presented_key({"authorization": "Basic a", "x-api-key": "b"}) == "b"
