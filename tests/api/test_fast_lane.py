"""The fast lane (app/api/fast_lane.py) answers exactly as the FastAPI routes it runs ahead of.

A query string sends a request past the lane to the routes, so each case is asked both ways: plainly,
and with ``?version=1`` (the default version of the tiny repository), and the two answers must match.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from app.api.fast_lane import FastLane
from tests.api.helpers import upload
from tests.conftest import digit_pixels

KEY = "fast-lane-key-0123456789"
PIXELS = {"pixels": digit_pixels().tolist()}
JSON = {"content-type": "application/json"}

CASES = {
    "logistic": ("/predict/logistic", {"json": {"features": [4.0, 3.0]}}),
    "logistic batch by name": ("/predict/logistic", {"json": {"instances": [{"x1": 1, "x2": 2}, [3, 4]]}}),
    "not JSON": ("/predict/logistic", {"content": b"{nope", "headers": JSON}),
    "empty body": ("/predict/logistic", {"content": b"", "headers": JSON}),
    "not sent as JSON": ("/predict/logistic", {"content": b'{"features": [1, 2]}'}),
    "invalid body": ("/predict/logistic", {"json": {"features": ["a", 2]}}),
    "feature past float64": ("/predict/logistic", {"content": b'{"features": [1e999, 2]}', "headers": JSON}),
    "wrong feature count": ("/predict/logistic", {"json": {"features": [1, 2, 3]}}),
    "unknown model": ("/predict/nope", {"json": {"features": [1, 2]}}),
    "digit": ("/predict/mnist", {"files": upload(("d.png", b""))}),
    "digit as JSON": ("/predict/mnist", {"json": {"features": [1, 2]}}),
    "pixels": ("/predict/mnist/pixels", {"json": PIXELS}),
    "pixels of a logistic model": ("/predict/logistic/pixels", {"json": PIXELS}),
}


def _comparable(response) -> tuple:
    headers = {k: v for k, v in response.headers.items() if k not in ("x-request-id", "date")}
    return response.status_code, response.content, headers


@pytest.mark.parametrize("case", CASES)
def test_fast_lane_answers_as_the_route(client, case, png_digit):
    path, request = CASES[case]
    if case == "digit":
        request = {"files": upload(("d.png", png_digit()))}
    fast = client.post(path, **request)
    routed = client.post(path, params={"version": "1"}, **request)
    assert _comparable(fast) == _comparable(routed)


def test_fast_lane_serves_a_plain_prediction_without_the_router(client, monkeypatch):
    passed_on = []
    lane = _lane(client.app)
    inner = lane.app

    async def spy(scope, receive, send):
        passed_on.append(scope["path"])
        await inner(scope, receive, send)

    monkeypatch.setattr(lane, "app", spy)
    assert client.post("/predict/logistic", json={"features": [4.0, 3.0]}).status_code == 200
    assert client.post("/predict/logistic?version=1", json={"features": [4.0, 3.0]}).status_code == 200
    assert client.get("/health/live").status_code == 200
    assert passed_on == ["/predict/logistic", "/health/live"]


def test_fast_lane_is_off_with_opentelemetry(client_with):
    assert _lane(client_with(opentelemetry=True).app) is None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"X-API-Key": KEY},
        {"Authorization": f"Bearer {KEY}"},
    ],
)
def test_fast_lane_checks_the_api_key_as_the_route(client_with, headers):
    client = client_with(api_key=SecretStr(KEY))
    body = {"features": [4.0, 3.0]}
    fast = client.post("/predict/logistic", json=body, headers=headers)
    routed = client.post("/predict/logistic?version=1", json=body, headers=headers)
    assert _comparable(fast) == _comparable(routed)
    assert fast.status_code == (200 if KEY in str(headers) else 401)


def test_fast_lane_labels_metrics_with_the_route(client):
    client.post("/predict/logistic", json={"features": [4.0, 3.0]})
    client.post("/predict/nope", json={"features": [4.0, 3.0]})
    text = client.get("/metrics").text
    assert 'route="/predict/logistic",status="200"' in text
    assert 'route="/predict/{name}",status="404"' in text


def _lane(app) -> FastLane | None:
    layer = app.middleware_stack
    while layer is not None and not isinstance(layer, FastLane):
        layer = getattr(layer, "app", None)
    return layer
