import json
import logging
import re

import pytest

from app.observability.logs import JsonFormatter

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def access_records(caplog):
    caplog.set_level(logging.INFO, logger="app.access")
    return lambda: [r for r in caplog.records if r.name == "app.access"]


def test_request_id_generated_when_absent(client):
    response = client.get("/health/live")
    assert HEX_ID.fullmatch(response.headers["x-request-id"])


def test_request_id_echoed_when_safe(client):
    response = client.get("/health/live", headers={"X-Request-ID": "trace-42.a:b_c"})
    assert response.headers["x-request-id"] == "trace-42.a:b_c"


@pytest.mark.parametrize("unsafe", ["has space", "x" * 129, 'quote"d', ""])
def test_request_id_replaced_when_unsafe(client, unsafe):
    response = client.get("/health/live", headers={"X-Request-ID": unsafe})
    assert HEX_ID.fullmatch(response.headers["x-request-id"])


def test_access_log_one_line_per_request(client, access_records):
    response = client.get("/models/mnist", headers={"X-Request-ID": "req-1"})
    [record] = access_records()
    assert (record.method, record.route, record.path, record.status) == (
        "GET",
        "/models/{name}",
        "/models/mnist",
        200,
    )
    assert record.request_id == response.headers["x-request-id"] == "req-1"
    assert record.duration_ms >= 0


def test_access_log_never_holds_feature_values(client, access_records):
    client.post("/predict/logistic?debug=1", json={"features": [123.456, 3.0]})
    [record] = access_records()
    line = JsonFormatter().format(record)
    assert "123.456" not in line
    assert "debug=1" not in line


def test_access_log_adds_query_in_debug(client_with, access_records):
    client_with(debug=True).get("/health/live?probe=1")
    [record] = access_records()
    assert record.query == "probe=1"


def test_access_log_off_when_disabled(client_with, access_records):
    client_with(access_log=False).get("/health/live")
    assert access_records() == []


def test_json_formatter_writes_one_object_with_the_fields():
    record = logging.LogRecord("app.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.status, record.request_id = 200, "abc"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    fields = json.loads(line)
    assert (fields["message"], fields["status"], fields["request_id"], fields["level"]) == (
        "GET /x",
        200,
        "abc",
        "INFO",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", fields["time"])
