"""Log lines as readable text or JSON, each stamped with the id of the request it belongs to.

``logging_config`` is a ``logging.config.dictConfig`` dict; ``digit-serve`` hands it to uvicorn, which applies
it in every worker, so uvicorn's own lines (start-up, errors) come out in the same format.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from contextvars import ContextVar
from json.encoder import encode_basestring_ascii
from typing import Any

from app.settings import Settings

# No line here shows the caller's file, thread or process; not collecting them makes each record several
# microseconds cheaper, which counts at thousands of request lines a second (logging docs: Optimization).
logging._srcfile = None
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False

# The id of the request being handled in this task; "-" outside requests (start-up, shutdown).
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# Attributes every LogRecord has; anything else on a record came through ``extra=`` and is a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",  # uvicorn's coloured copy of the message
}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class _SecondsText:
    """A timestamp down to the second, formatted once a second rather than for every line."""

    def __init__(self, converter: Callable[[float], time.struct_time], fmt: str) -> None:
        self.converter, self.fmt = converter, fmt
        self._second, self._text = -1, ""

    def text(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second, self._text = second, time.strftime(self.fmt, self.converter(second))
        return self._text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any ``extra`` fields."""

    def __init__(self) -> None:
        super().__init__()
        self._seconds = _SecondsText(time.gmtime, "%Y-%m-%dT%H:%M:%S")
        # json.dumps(line, default=str) builds an encoder for every call; this one is built once.
        self._encode = json.JSONEncoder(default=str).encode

    def format(self, record: logging.LogRecord) -> str:
        line = self._object(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            getattr(record, "request_id", "-"),
            vars(record),
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return self._encode(line)

    def line(
        self, created: float, level: str, logger: str, message: str, request_id: str, fields: dict[str, Any]
    ) -> str:
        """The line ``format`` writes for a record of these attributes and ``extra`` fields (no exception).

        Fields of plain types (str, int, float, None) are written here as the encoder writes them, in a
        third of its time (it builds an encoder for every call); a line with any other value is encoded.
        """
        parts = [
            f'{{"time": "{self._timestamp(created)}", "level": {_json_text(level)}, "logger": '
            f'{_json_text(logger)}, "message": {_json_text(message)}, "request_id": {_json_text(request_id)}'
        ]
        for key, value in fields.items():
            if key in _RECORD_ATTRIBUTES:
                continue
            write = _JSON_SCALARS.get(type(value))
            if write is None:
                return self._encode(self._object(created, level, logger, message, request_id, fields))
            parts.append(f", {_json_text(key)}: {write(value)}")
        parts.append("}")
        return "".join(parts)

    def _object(
        self, created: float, level: str, logger: str, message: str, request_id: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        line: dict[str, Any] = {
            "time": self._timestamp(created),
            "level": level,
            "logger": logger,
            "message": message,
            "request_id": request_id,
        }
        for key, value in fields.items():
            if key not in _RECORD_ATTRIBUTES:
                line[key] = value
        return line

    def _timestamp(self, created: float) -> str:
        return f"{self._seconds.text(created)}.{int(created % 1 * 1000):03d}Z"


def _json_float(value: float) -> str:
    if value != value or value in (math.inf, -math.inf):  # what allow_nan writes: not JSON, but readable
        return json.dumps(value)
    return float.__repr__(value)


_json_text = encode_basestring_ascii  # a str as the encoder writes it (ensure_ascii, the default)
# Values by exact type (a bool is not an int here), written as json.dumps writes them.
_JSON_SCALARS: dict[type, Callable[[Any], str]] = {
    str: _json_text,
    int: int.__repr__,
    float: _json_float,
    type(None): lambda _: "null",
}


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
# Control characters (C0, DEL, C1) and Unicode's line and paragraph separators, written as escapes: a
# request path holding %0D%0A must not start a line of its own that looks like ours.
_CONTROL_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))} | {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def escape_controls(text: str) -> str:
    # Every character escaped is unprintable, and most lines hold none: one C-speed scan settles those.
    return text if text.isprintable() else text.translate(_CONTROL_ESCAPES)


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, one line a record, whatever its fields hold; tracebacks follow, indented.

    The date and time are worked out once a second rather than for every line. Every field is escaped
    (escape_controls); a traceback keeps its lines, each indented, so that any line which starts at
    the margin starts a record.
    """

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._seconds = _SecondsText(self.converter, self.default_time_format)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self._asctime(record.created, record.msecs)

    def _asctime(self, created: float, msecs: float) -> str:
        return self.default_msec_format % (self._seconds.text(created), msecs)

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record)
        line = escape_controls(self._fmt % record.__dict__)  # formatMessage's work, without its 3 calls
        if not (record.exc_info or record.stack_info):
            return line
        details = [self.formatException(record.exc_info)] if record.exc_info else []
        if record.stack_info:
            details.append(record.stack_info)
        lines = [line]
        lines += ["    " + escape_controls(line) for text in details for line in text.splitlines()]
        return "\n".join(lines)

    def line(
        self, created: float, level: str, logger: str, message: str, request_id: str, fields: dict[str, Any]
    ) -> str:
        """The line ``format`` writes for a record of these attributes (no exception); fields not shown."""
        msecs = int((created - int(created)) * 1000)  # as LogRecord works them out
        attributes = {
            "asctime": self._asctime(created, msecs),
            "levelname": level,
            "name": logger,
            "request_id": request_id,
            "message": message,
        }
        return escape_controls(self._fmt % attributes)


class LineHandler(logging.StreamHandler):
    """A StreamHandler that writes and flushes each line under the one lock ``handle`` already holds.

    StreamHandler.emit flushes through ``self.flush()``, which takes the handler's lock a second time.
    Each line is still written and flushed before ``emit`` returns, so a crash loses none.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(self.format(record))
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def write(self, line: str) -> None:
        """Write and flush one formatted line; the caller holds the lock."""
        stream = self.stream
        stream.write(line + self.terminator)
        stream.flush()


class RequestLine:
    """One logger's INFO lines of one message, the lines ``logger.info(msg, *args, extra=fields)`` writes.

    The logging module spends about 60 k instructions on such a line, an eighth of a small prediction's:
    a LogRecord of 30 attributes, the filters, the handler's lock and a formatter that looks at every
    attribute. Where the logger's records reach one LineHandler with our formatter and filter and nothing
    else (``logging_config``'s set-up), this formats the same line with that formatter's own ``line``
    and writes it under the handler's lock: 44 k instructions instead of 63 k (a text line). Anywhere else
    (another handler or filter, as pytest's caplog adds, a level that drops INFO, another record factory)
    it calls ``logger.info``.
    """

    def __init__(self, logger: logging.Logger, msg: str) -> None:
        self.logger, self.msg = logger, msg

    def __call__(self, args: tuple, request_id: str, fields: dict[str, Any]) -> None:
        """Log ``msg % args``; ``fields`` are the ``extra`` ones, ``request_id`` the request's."""
        handler = self._only_handler()
        if handler is not None:
            logger = self.logger
            line = handler.formatter.line(
                time.time(), "INFO", logger.name, self.msg % args, request_id, fields
            )
            try:
                with handler.lock:
                    handler.write(line)
                return
            except RecursionError:
                raise
            except Exception:  # logged the usual way below, which reports the failure as logging does
                pass
        self.logger.info(self.msg, *args, extra={"request_id": request_id, **fields})

    def _only_handler(self) -> LineHandler | None:
        """The one handler the logger's INFO records reach, if it is a LineHandler of ours; else None."""
        logger: logging.Logger | None = self.logger
        if not logger.isEnabledFor(logging.INFO) or logging.getLogRecordFactory() is not logging.LogRecord:
            return None
        found = None
        while logger is not None:
            if logger.filters:
                return None
            for handler in logger.handlers:
                if found is not None or type(handler) is not LineHandler:
                    return None
                found = handler
            logger = logger.parent if logger.propagate else None
        if (
            found is None
            or found.level > logging.INFO
            or type(found.formatter) not in (JsonFormatter, TextFormatter)
            or len(found.filters) != 1
            or type(found.filters[0]) is not RequestIdFilter
        ):
            return None
        return found


def route_warnings_to_logging() -> None:
    """Python warnings (torch's at a reload, say) become records of the ``py.warnings`` logger, in the
    log's format: with SERVE_LOG_FORMAT=json, stderr then holds nothing but JSON lines."""
    logging.captureWarnings(True)


def logging_config(settings: Settings) -> dict[str, Any]:
    formatter = {"()": JsonFormatter if settings.log_format == "json" else TextFormatter}
    level = "DEBUG" if settings.debug else settings.log_level
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": f"{__name__}.LineHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["default"], "level": level},
        # uvicorn's loggers come with handlers of their own; send their lines through ours instead.
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
