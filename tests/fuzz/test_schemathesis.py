"""Schemathesis fuzzes every operation of the live OpenAPI schema: valid and invalid inputs alike.

Every response must be a non-5xx the operation declares, with a body matching its declared schema.
The schema is read from the module's app at collection time (building an app loads no model); every
case is then sent to ONE test app whose lifespan loaded tiny checkpoints, and that same app must still
be ready once the fuzzer is done with it.
"""

from collections.abc import Iterator

import pytest
import schemathesis
from conftest import served_settings
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import app as default_app
from app.main import create_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class WithoutLifespan:
    """The started app, minus its lifespan: schemathesis runs one per call on a new event loop, and the
    app's lifespan (already run by the TestClient) starts the repository's poller on the loop it runs in."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def fuzzed_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = served_settings(tmp_path_factory.mktemp("checkpoints"))
    with TestClient(create_app(settings)) as client:  # runs the lifespan: the models are loaded
        yield client
        # After every fuzzed request: nothing a client sent took a model down.
        response = client.get("/health/ready")
        assert (response.status_code, response.json()["status"]) == (200, "ready")


schema = schemathesis.openapi.from_asgi("/openapi.json", default_app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_every_input_as_declared(case, fuzzed_client):
    case.call_and_validate(checks=CHECKS, app=WithoutLifespan(fuzzed_client.app))
