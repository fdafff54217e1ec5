"""Log output: one JSON object per line for machines, readable lines on a terminal."""

import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What every LogRecord carries; anything else on a record came as `extra` and is written as a
# field. uvicorn repeats its messages with terminal colours in `color_message`.
_STANDARD_ATTRIBUTES = frozenset(
    [*vars(logging.LogRecord("", 0, "", 0, "", (), None)), "message", "asctime", "color_message"]
)
_ENCODER = msgspec.json.Encoder(enc_hook=str)  # a value JSON has no form for is written as text


class JsonLineFormatter(logging.Formatter):
    """`{"level", "logger", "message", extra fields..., "exc_info"?, "time"}` on one line.

    The access log writes one of these per request, so it is kept to what the line needs:
    python-json-logger's formatter, which did this before, cost three times as much per record
    (bench/README.md).
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRIBUTES:
                line[name] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        line["time"] = datetime.fromtimestamp(record.created, UTC)
        return _ENCODER.encode(line).decode("utf-8")


def _gather_only_what_is_written() -> None:
    """Neither format writes a record's source line, thread or process, and finding the caller
    walks the stack on every record; the logging HOWTO's "Optimization" names these switches."""
    logging._srcfile = None  # documented there, though underscored
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def json_formatter() -> logging.Formatter:
    _gather_only_what_is_written()
    return JsonLineFormatter()


def text_formatter() -> logging.Formatter:
    _gather_only_what_is_written()
    return logging.Formatter(TEXT_FORMAT)


JSON_FORMATTER = {"()": "gong_meetings.logs.json_formatter"}
TEXT_FORMATTER = {"()": "gong_meetings.logs.text_formatter"}


def writes_json(log_format: str, stream: TextIO | None = None) -> bool:
    """`auto` means JSON unless a person is watching the output."""
    if log_format != "auto":
        return log_format == "json"
    return not (stream or sys.stderr).isatty()


def log_config(log_format: str) -> dict[str, Any]:
    """A `logging.dictConfig` for uvicorn and us; uvicorn applies it in every worker."""
    formatter = JSON_FORMATTER if writes_json(log_format) else TEXT_FORMATTER
    handler = {"handlers": ["default"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {**handler, "level": "INFO"},
            "gong_meetings": {**handler, "level": "INFO"},
            "alembic": {**handler, "level": "WARNING"},
        },
    }
