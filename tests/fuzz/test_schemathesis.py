"""Schemathesis fuzzes every operation of the live OpenAPI schema: valid and invalid inputs alike.

Every response must be a non-5xx the operation declares, with a body matching its declared schema.
The schema is read from the module's app at collection time (building an app loads no model); each
case is then sent to a test app whose lifespan loaded the tiny test checkpoints.
"""

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import app as default_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def served_app(app: FastAPI) -> Iterator[FastAPI]:
    with TestClient(app):  # runs the lifespan, so the models are loaded while the fuzzer calls the app
        yield app


schema = schemathesis.openapi.from_asgi("/openapi.json", default_app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_every_input_as_declared(case, served_app):
    case.call_and_validate(checks=CHECKS, app=served_app)


def test_api_still_ready_after_fuzzing(client):
    assert client.get("/health/ready").status_code == 200
