"""Operation ids and schema names in /openapi.json, as client generators name things after them."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from app.api.openapi import use_component_schemas


def operations(client) -> dict[tuple[str, str], dict]:
    schema = client.get("/openapi.json").json()
    return {(m, p): op for p, ops in schema["paths"].items() for m, op in ops.items()}


@pytest.mark.parametrize(
    ("method", "path", "operation_id"),
    [
        ("post", "/predict/logistic", "predictLogistic"),
        ("post", "/predict/mnist", "predictDigits"),
        ("post", "/predict/mnist/pixels", "predictDigitPixels"),
        ("get", "/models/{name}", "getModel"),
        ("get", "/health/ready", "readiness"),
        ("post", "/v2/models/{name}/infer", "infer"),
    ],
)
def test_openapi_operation_id_is_the_endpoint_in_camel_case(client, method, path, operation_id):
    assert operations(client)[method, path]["operationId"] == operation_id


def test_openapi_operation_ids_are_unique_camel_case(client):
    ids = [op["operationId"] for op in operations(client).values()]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not re.fullmatch(r"[a-z][a-zA-Z0-9]*", i)] == []


def test_openapi_route_added_later_gets_a_clean_id(app):
    @app.get("/extra/{name}")
    async def describe_extra_route(name: str) -> dict:
        return {}

    assert app.openapi()["paths"]["/extra/{name}"]["get"]["operationId"] == "describeExtra"


@pytest.mark.parametrize(
    ("path", "media_type", "component"),
    [
        ("/predict/logistic", "application/json", "LogisticRequest"),
        ("/predict/mnist", "multipart/form-data", "DigitUpload"),
        ("/predict/mnist/pixels", "application/json", "PixelsRequest"),
    ],
)
def test_openapi_request_body_is_a_named_component(client, path, media_type, component):
    document = client.get("/openapi.json").json()
    body = document["paths"][path]["post"]["requestBody"]["content"][media_type]
    assert body["schema"] == {"$ref": f"#/components/schemas/{component}"}
    assert document["components"]["schemas"][component]["type"] == "object"


def test_openapi_schema_names_carry_no_route_noise(client):
    names = client.get("/openapi.json").json()["components"]["schemas"]
    assert [n for n in names if re.search(r"Route|Post|Get|^Body", n)] == []
    assert '"#/$defs/' not in client.get("/openapi.json").text


class Point(BaseModel):
    x: float


class Segment(BaseModel):
    start: Point
    end: Point


def test_use_component_schemas_hoists_nested_definitions():
    app = FastAPI()
    schema = Segment.model_json_schema()
    body = {"requestBody": {"content": {"application/json": {"schema": schema}}}}
    app.post("/segments", openapi_extra=body)(lambda: None)
    use_component_schemas(app)

    document = app.openapi()

    components = document["components"]["schemas"]
    assert components["Segment"]["properties"]["start"] == {"$ref": "#/components/schemas/Point"}
    assert components["Point"]["properties"]["x"]["type"] == "number"


def test_use_component_schemas_refuses_two_bodies_with_one_title():
    app = FastAPI()
    for path, model in (("/a", Point), ("/b", Segment)):
        schema = {**model.model_json_schema(), "title": "Shape"}
        body = {"requestBody": {"content": {"application/json": {"schema": schema}}}}
        app.post(path, openapi_extra=body)(lambda: None)
    use_component_schemas(app)

    with pytest.raises(ValueError, match="two different request bodies are both titled 'Shape'"):
        app.openapi()


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/predict/logistic", ["explanation"]),
        ("/predict/mnist/pixels", ["input", "explanation"]),
        ("/predict/{name}/pixels", ["input", "explanation"]),
        ("/predict/mnist", ["input", "explanation"]),
    ],
)
def test_openapi_documents_include_on_every_route_that_takes_it(client, path, allowed):
    parameters = client.get("/openapi.json").json()["paths"][path]["post"]["parameters"]
    include = next(p for p in parameters if p["name"] == "include")
    schema = include["schema"]
    items = schema["items"] if "items" in schema else schema["anyOf"][0]["items"]
    assert items["enum"] == allowed
