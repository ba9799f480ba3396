"""Log lines that a client cannot forge, and Python warnings that come out in the log's own format."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest

from app.observability.logs import LineHandler, RecordMaker, RequestIdFilter, TextFormatter, escape_controls


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


def test_record_maker_makes_the_record_logger_info_makes(record_factory):
    logger = logging.getLogger("app.access")
    fields = {"request_id": "abc", "path": "/x\n", "status": 200}
    made = RecordMaker(logger, "GET %s %d")(("/x\n", 200), dict(fields))
    logged = logger.makeRecord(
        logger.name,
        logging.INFO,
        "(unknown file)",
        0,
        "GET %s %d",
        ("/x\n", 200),
        None,
        "(unknown function)",
        dict(fields),
    )
    made.created, made.msecs, made.relativeCreated = logged.created, logged.msecs, logged.relativeCreated
    assert vars(made) == vars(logged)
    assert list(vars(made)) == list(vars(logged))  # the JSON line's field order too
    assert TextFormatter().format(made) == TextFormatter().format(logged)


def test_record_maker_is_off_with_another_record_factory(record_factory):
    maker = RecordMaker(logging.getLogger("app.access"), "GET %s %d")
    assert maker.enabled
    logging.setLogRecordFactory(lambda *args, **kwargs: logging.LogRecord(*args, **kwargs))
    assert not maker.enabled


def test_line_handler_flushes_every_line():
    stream = io.StringIO()
    flushed = []
    stream.flush = lambda: flushed.append(stream.getvalue())
    handler = LineHandler(stream)
    handler.handle(logging.makeLogRecord({"msg": "one"}))
    handler.handle(logging.makeLogRecord({"msg": "two"}))
    assert flushed == ["one\n", "one\ntwo\n"]
