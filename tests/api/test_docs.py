import io
import re

import pytest
from PIL import Image

from app.schemas import predict

_ASSET = re.compile(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_loads_only_local_assets(client, page):
    response = client.get(page)
    assert response.status_code == 200
    assert "://" not in response.text  # no CDN, no fonts host: the page must work offline
    assets = _ASSET.findall(response.text)
    assert "/openapi.json" in assets
    assert len(assets) >= 3  # the script, its stylesheet or favicon, and the schema
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_openapi_every_operation_documented(client):
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path}"
            content = operation["responses"]["200"]["content"]
            assert all("schema" in body for body in content.values()), f"{method} {path}"


def test_openapi_mnist_upload_is_array_of_files(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["DigitUpload"]
    assert schema["required"] == ["file"]
    assert schema["properties"]["file"]["type"] == "array"
    assert schema["properties"]["file"]["items"] == {
        "type": "string",
        "format": "binary",
        "contentMediaType": "application/octet-stream",
    }


@pytest.mark.parametrize(("path", "count"), [("/predict/logistic", 4), ("/predict/mnist/pixels", 2)])
def test_openapi_request_examples_are_valid_requests(client, path, count):
    operation = client.get("/openapi.json").json()["paths"][path]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert len(examples) == count
    for name, example in examples.items():
        response = client.post(path, json=example["value"])
        assert response.status_code == 200, name
        assert len(response.json()["predictions"]) == len(example["value"].get("instances", [None]))


@pytest.mark.parametrize("model", ["LogisticResponse", "DigitResponse"])
def test_openapi_response_examples_match_their_schema(client, model):
    schema = client.get("/openapi.json").json()["components"]["schemas"][model]
    for example in schema["examples"]:
        getattr(predict, model).model_validate(example)


def test_redoc_bundle_leaves_out_the_cdn_logo(client):
    response = client.get("/redoc/redoc.standalone.js")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "cdn.redoc.ly" not in response.text
    assert len(response.content) > 500_000  # the whole bundle, not a stand-in


def _error_example(client, path: str, status: int) -> str:
    operation = client.get("/openapi.json").json()["paths"][path]["post"]
    return operation["responses"][str(status)]["content"]["application/json"]["example"]["detail"]


def test_openapi_error_examples_differ_per_status(client):
    examples = [_error_example(client, "/predict/mnist", status) for status in (400, 413, 415, 422, 503)]
    assert len(set(examples)) == len(examples)


def test_openapi_error_examples_are_what_the_service_answers(client):
    blank = io.BytesIO()
    Image.new("L", (60, 40), 255).save(blank, "PNG")
    response = client.post("/predict/mnist", files={"file": ("blank.png", blank.getvalue())})
    assert response.json()["detail"] == _error_example(client, "/predict/mnist", 422)
    response = client.post("/predict/logistic", json={"instances": [[1.0, 2.0]] * 65})
    assert response.json()["detail"] == _error_example(client, "/predict/logistic", 413)
    response = client.post("/predict/logistic", json={"features": [1.0, 2.0, 3.0]})
    assert response.json()["detail"] == _error_example(client, "/predict/logistic", 422)
