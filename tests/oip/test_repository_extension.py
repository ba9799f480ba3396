"""The OIP model repository extension through tritonclient: index, load, unload, behind the admin key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import write_repository
from live_server import LiveServer, serve
from pydantic import SecretStr
from tritonclient.http import InferenceServerClient
from tritonclient.utils import InferenceServerException

from app.main import create_app
from app.settings import Settings

KEY = "repository-key-0123456789"
HEADERS = {"X-API-Key": KEY}


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    settings = Settings(model_repository=write_repository(tmp_path / "repository"), api_key=SecretStr(KEY))
    with serve(create_app(settings)) as live:
        yield live


@pytest.fixture
def triton(server: LiveServer) -> Iterator[InferenceServerClient]:
    client = InferenceServerClient(server.address)
    yield client
    client.close()


def test_index_lists_every_version_and_state(triton):
    assert triton.get_model_repository_index(headers=HEADERS) == [
        {"name": "logistic", "version": "1", "state": "READY", "reason": ""},
        {"name": "mnist", "version": "1", "state": "READY", "reason": ""},
    ]


def test_unload_then_load(triton):
    triton.unload_model("logistic", headers=HEADERS)
    assert not triton.is_model_ready("logistic", headers=HEADERS)
    index = triton.get_model_repository_index(headers=HEADERS)
    assert index[0] == {"name": "logistic", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"}
    triton.load_model("logistic", headers=HEADERS)
    assert triton.is_model_ready("logistic", headers=HEADERS)


def test_load_unknown_model_is_an_error(triton):
    with pytest.raises(InferenceServerException, match="unknown model 'nope'"):
        triton.load_model("nope", headers=HEADERS)


def test_load_with_a_config_is_refused(triton):
    with pytest.raises(InferenceServerException, match="loads models only from its repository"):
        triton.load_model("logistic", headers=HEADERS, config='{"backend": "python"}')


def test_repository_calls_want_the_key(triton):
    with pytest.raises(InferenceServerException, match="missing API key"):
        triton.get_model_repository_index()
