"""Log lines as readable text or JSON, each stamped with the id of the request it belongs to.

``logging_config`` is a ``logging.config.dictConfig`` dict; ``digit-serve`` hands it to uvicorn, which applies
it in every worker, so uvicorn's own lines (start-up, errors) come out in the same format.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
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
        line: dict[str, Any] = {
            "time": self._timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return self._encode(line)

    def _timestamp(self, created: float) -> str:
        return f"{self._seconds.text(created)}.{int(created % 1 * 1000):03d}Z"


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
        return self.default_msec_format % (self._seconds.text(record.created), record.msecs)

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


class LineHandler(logging.StreamHandler):
    """A StreamHandler that writes and flushes each line under the one lock ``handle`` already holds.

    StreamHandler.emit flushes through ``self.flush()``, which takes the handler's lock a second time.
    Each line is still written and flushed before ``emit`` returns, so a crash loses none.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self.stream
            stream.write(self.format(record) + self.terminator)
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


class RecordMaker:
    """INFO records of one logger and one message, the same as ``logger.info(msg, *args, extra=...)`` makes.

    ``LogRecord.__init__`` works out a dozen attributes that never change for a given logger, level and
    message (level name, file and module, thread, process: see the top of this module); they are worked out
    once here and copied, and only the time, the arguments and the extra fields are new. Used where a
    line is logged for every request. ``enabled`` is False where the copy would not match what the
    logging module makes (a record factory set by someone else, Python 3.12's task names), and the
    caller then logs as usual.
    """

    def __init__(self, logger: logging.Logger, msg: str) -> None:
        self.logger = logger
        # LogRecord itself, not logger.makeRecord: the template must not carry what another record
        # factory adds (Ray's adds a timestamp of its own); with such a factory set, ``enabled`` is False.
        made = logging.LogRecord(
            logger.name, logging.INFO, "(unknown file)", 0, msg, (), None, "(unknown function)"
        )
        self._template = vars(made)
        self._exact = sys.version_info < (3, 12) and not logging._srcfile

    @property
    def enabled(self) -> bool:
        return self._exact and logging.getLogRecordFactory() is logging.LogRecord

    def __call__(self, args: tuple, fields: dict[str, Any]) -> logging.LogRecord:
        created = time.time()  # as LogRecord.__init__ (3.10, 3.11) works out created, msecs, relativeCreated
        record = logging.LogRecord.__new__(logging.LogRecord)
        record.__dict__ = {
            **self._template,
            "args": args,
            "created": created,
            "msecs": int((created - int(created)) * 1000) + 0.0,
            "relativeCreated": (created - logging._startTime) * 1000,
            **fields,
        }
        return record


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
