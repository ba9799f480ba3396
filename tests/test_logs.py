"""Log lines that a client cannot forge, and Python warnings that come out in the log's own format."""

import io
import json
import logging
import math
import os
import subprocess
import sys
import time

import pytest

from app.observability.logs import (
    JsonFormatter,
    LineHandler,
    RequestIdFilter,
    RequestLine,
    TextFormatter,
    escape_controls,
    request_id_var,
)


@pytest.fixture
def text_log(caplog):
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestIdFilter())
    caplog.handler.setFormatter(TextFormatter())
    return caplog


@pytest.mark.parametrize("encoded", ["%0D%0A", "%0A", "%0D", "%E2%80%A8", "%C2%85", "%1B%5B31m"])
def test_text_log_request_path_with_line_breaks_stays_one_line(client, text_log, encoded):
    forged = f"/x{encoded}2026-01-01 00:00:00,000 INFO    app.access [admin] GET /admin 200"
    client.get(forged)
    [line] = [line for line in text_log.text.splitlines() if "app.access" in line[:60]]
    assert "/x\\" in line  # the break is written as an escape on the request's own line
    assert line.endswith("404 " + line.rsplit(" ", 1)[-1])


def test_text_log_traceback_lines_are_indented(text_log):
    try:
        raise ValueError("evil\n2026-01-01 00:00:00,000 INFO    forged line")
    except ValueError:
        logging.getLogger("app").exception("failed")
    first, *rest = text_log.text.splitlines()
    assert first.endswith("failed")
    assert len(rest) > 3
    assert all(line.startswith("    ") for line in rest)


def test_escape_controls_writes_every_control_character_as_an_escape():
    text = "".join(map(chr, range(0x20))) + "\x7f\x85\u2028"
    escaped = escape_controls(text)
    assert escaped.isprintable()
    assert escaped.startswith("\\x00\\x01\\x02")
    assert ("\\n" in escaped, "\\r" in escaped) == (True, True)


def test_json_log_warnings_come_out_as_json():
    # A process of its own: the service's logging set up as `digit-serve` does, then a warning as torch gives.
    script = (
        "import logging.config, warnings;"
        "from app.settings import Settings;"
        "from app.observability.logs import logging_config;"
        "logging.config.dictConfig(logging_config(Settings(log_format='json')));"
        "import app.main;"
        "warnings.warn('a torch-like warning', UserWarning)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON
    [warning] = [r for r in records if r["logger"] == "py.warnings"]
    assert "a torch-like warning" in warning["message"]


@pytest.fixture
def record_factory():
    """The logging module's own record factory for the test: importing ray (as collecting the Ray tests
    does) installs another."""
    factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    yield
    logging.setLogRecordFactory(factory)


@pytest.fixture
def access_logger(record_factory, monkeypatch):
    """A logger set up as logging_config sets up the service's: one LineHandler with the request id filter,
    writing to a string; the clock stopped. Outside logging's tree, where pytest adds no handlers."""
    logger = logging.Logger("test.access", logging.INFO)
    stream = io.StringIO()
    handler = LineHandler(stream)
    handler.addFilter(RequestIdFilter())
    logger.addHandler(handler)
    monkeypatch.setattr(time, "time", lambda: 1764300000.987654)
    token = request_id_var.set("r-1")
    yield logger, handler, stream
    request_id_var.reset(token)


_FIELDS = {"method": "GET", "path": '/x\n\u00e9\u2028"', "status": 200, "client": None, "duration_ms": 0.25}


_ODD_NUMBERS = {"huge": 10**30, "nan": math.nan, "minus_inf": -math.inf, "id": 7}
_OTHER_TYPES = {"flag": True, "tags": ["a", 1]}  # written by the JSON encoder, as format writes them


@pytest.mark.parametrize(
    "fields",
    [_FIELDS, {**_FIELDS, **_ODD_NUMBERS}, {**_FIELDS, **_ODD_NUMBERS, **_OTHER_TYPES}],
    ids=["plain", "odd-numbers", "other-types"],
)
@pytest.mark.parametrize("formatter", [JsonFormatter, TextFormatter])
def test_request_line_writes_the_line_logger_info_writes(access_logger, formatter, fields):
    logger, handler, stream = access_logger
    handler.setFormatter(formatter())
    args = ('/x\n\u00e9\u2028"', 200)
    RequestLine(logger, "GET %s %d")(args, "r-1", dict(fields))
    logger.info("GET %s %d", *args, extra={"request_id": "r-1", **fields})
    written, logged = stream.getvalue().splitlines()
    assert written == logged


def test_request_line_with_our_handler_alone_makes_no_record(access_logger, monkeypatch):
    logger, handler, stream = access_logger
    handler.setFormatter(JsonFormatter())

    def no_record(*args, **kwargs):
        raise AssertionError("a record was made")

    monkeypatch.setattr(logger, "makeRecord", no_record)
    RequestLine(logger, "GET %s %d")(("/x", 200), "r-1", dict(_FIELDS))
    assert json.loads(stream.getvalue())["message"] == "GET /x 200"


def test_request_line_json_line_holds_the_fields(access_logger):
    logger, handler, stream = access_logger
    handler.setFormatter(JsonFormatter())
    RequestLine(logger, "GET %s %d")(("/x", 200), "r-1", dict(_FIELDS))
    line = json.loads(stream.getvalue())
    assert line == {
        "time": "2025-11-28T03:20:00.987Z",
        "level": "INFO",
        "logger": "test.access",
        "message": "GET /x 200",
        "request_id": "r-1",
        **_FIELDS,
    }


def test_request_line_logs_the_usual_way_with_another_handler(access_logger, caplog):
    logger, handler, stream = access_logger
    handler.setFormatter(JsonFormatter())
    logger.addHandler(caplog.handler)
    RequestLine(logger, "GET %s %d")(("/x", 200), "r-1", dict(_FIELDS))
    [record] = caplog.records
    assert (record.getMessage(), record.request_id, record.path) == ("GET /x 200", "r-1", _FIELDS["path"])
    assert json.loads(stream.getvalue())["message"] == "GET /x 200"


def test_request_line_logs_the_usual_way_with_a_logger_filter(access_logger):
    logger, handler, stream = access_logger
    handler.setFormatter(JsonFormatter())
    dropping = logging.Filter("elsewhere")  # lets no record of test.access through
    logger.addFilter(dropping)
    RequestLine(logger, "GET %s %d")(("/x", 200), "r-1", dict(_FIELDS))
    assert stream.getvalue() == ""


def test_request_line_logs_the_usual_way_with_another_record_factory(access_logger):
    logger, handler, stream = access_logger
    handler.setFormatter(JsonFormatter())

    def stamped(*args, **kwargs):
        record = logging.LogRecord(*args, **kwargs)
        record.host = "h1"
        return record

    logging.setLogRecordFactory(stamped)
    RequestLine(logger, "GET %s %d")(("/x", 200), "r-1", dict(_FIELDS))
    assert json.loads(stream.getvalue())["host"] == "h1"


def test_request_line_writes_nothing_below_the_level(access_logger):
    logger, handler, stream = access_logger
    handler.setFormatter(JsonFormatter())
    logger.setLevel(logging.WARNING)
    RequestLine(logger, "GET %s %d")(("/x", 200), "r-1", dict(_FIELDS))
    assert stream.getvalue() == ""


def test_request_line_failed_write_is_reported_as_logging_reports_it(access_logger, capsys):
    logger, handler, stream = access_logger
    handler.setFormatter(JsonFormatter())
    stream.close()
    RequestLine(logger, "GET %s %d")(("/x", 200), "r-1", dict(_FIELDS))
    assert "--- Logging error ---" in capsys.readouterr().err


def test_line_handler_flushes_every_line():
    stream = io.StringIO()
    flushed = []
    stream.flush = lambda: flushed.append(stream.getvalue())
    handler = LineHandler(stream)
    handler.handle(logging.makeLogRecord({"msg": "one"}))
    handler.handle(logging.makeLogRecord({"msg": "two"}))
    assert flushed == ["one\n", "one\ntwo\n"]
