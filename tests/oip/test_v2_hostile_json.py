"""Hostile Open Inference Protocol bodies: numbers past any float, deep nesting, odd headers, echoes."""

import pytest
from starlette.exceptions import HTTPException

from app.api.routes import v2

HEADER = "Inference-Header-Content-Length"
BIG = "1" + "0" * 400  # a JSON integer far beyond float range


def _post(client, body: str, headers: dict | None = None, model: str = "logistic"):
    return client.post(f"/v2/models/{model}/infer", content=body.encode(), headers=headers or {})


def _features(data: str, shape: str = "[1, 2]", datatype: str = "FP64") -> str:
    return (
        f'{{"inputs": [{{"name": "features", "shape": {shape}, "datatype": "{datatype}", "data": {data}}}]}}'
    )


@pytest.mark.parametrize("datatype", ["FP64", "FP32"])
def test_infer_integer_beyond_float_range_is_400(client, datatype):
    response = _post(client, _features(f"[{BIG}, 1]", datatype=datatype))
    assert (response.status_code, response.json()) == (
        400,
        {"error": f"input 'features': data holds a number beyond the range of {datatype}"},
    )


def test_infer_integer_beyond_int64_range_is_400(client):
    body = f'{{"inputs": [{{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [{BIG}]}}]}}'
    response = _post(client, body, model="mnist")
    assert (response.status_code, response.json()) == (
        400,
        {"error": "input 'pixels': data holds a number beyond the range of UINT8"},
    )


def test_infer_shape_beyond_any_batch_is_400_without_echoing_it(client):
    response = _post(client, _features("[1, 1]", shape=f"[{BIG}, 2]"))
    assert (response.status_code, response.json()) == (
        400,
        {"error": "inputs.0.shape.0: Input should be less than or equal to 2147483647"},
    )


@pytest.mark.parametrize("where", ["data", "parameters", "id"])
def test_infer_json_nested_thousands_deep_is_400(client, where):
    deep = "[" * 5000 + "1" + "]" * 5000
    bodies = {
        "data": _features(deep),
        "parameters": _features("[1, 2]")[:-1] + f', "parameters": {{"x": {deep}}}}}',
        "id": _features("[1, 2]")[:-1] + f', "id": {deep}}}',
    }
    response = _post(client, bodies[where], {"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("malformed JSON")


@pytest.mark.parametrize("length", ["²", "¹0", "³", "1_0", " 10", "+10"])
def test_infer_header_length_not_ascii_digits_is_400(client, length):
    # Headers travel as latin-1: "²" (one byte, 0xB2) passes str.isdigit() and fails int().
    body = _features("[1, 2]")
    headers = [(HEADER.encode(), length.encode("latin-1"))]
    response = client.post("/v2/models/logistic/infer", content=body.encode(), headers=headers)
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{HEADER} must be a byte count")


def test_protocol_error_answers_starlettes_http_exception(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise HTTPException(status_code=409, detail="starlette's own")

    monkeypatch.setattr(v2, "_infer", refuse)
    response = _post(client, _features("[1, 2]"))
    assert (response.status_code, response.json()) == (409, {"error": "starlette's own"})


def test_infer_output_requested_twice_is_400(client):
    body = _features("[1, 2]")[:-1] + ', "outputs": [{"name": "label"}, {"name": "label"}]}'
    response = _post(client, body)
    assert (response.status_code, response.json()) == (400, {"error": "output 'label' is requested twice"})


def test_infer_output_named_thousands_of_times_is_refused_small(client):
    outputs = ", ".join(['{"name": "probability"}'] * 5000)
    response = _post(client, _features("[1, 2]")[:-1] + f', "outputs": [{outputs}]}}')
    assert response.status_code == 413  # 5,000 objects: more than any batch needs, refused unparsed
    assert len(response.content) < 200


@pytest.mark.parametrize("data", ["[true, false]", '["1", "2"]', "[1, true]", "[[1, false]]"])
def test_infer_data_that_is_not_numbers_is_400(client, data):
    shape = "[1, 2]"
    response = _post(client, _features(data, shape=shape))
    assert response.status_code == 400
    assert response.json()["error"].startswith("input 'features': data must be numbers")


def test_infer_logistic_huge_finite_features_give_a_probability(client):
    body = _features("[[1e300, -1e300], [-3e38, 3e38]]", shape="[2, 2]")[:-1]
    body += ', "outputs": [{"name": "probability"}]}'
    response = _post(client, body)
    assert response.status_code == 200
    assert response.json()["outputs"][0]["data"] == [1.0, 0.0]
