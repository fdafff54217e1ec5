"""Log output: one JSON object per line for machines, readable lines on a terminal."""

import sys
from typing import Any, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FORMATTER = {
    "()": "pythonjsonlogger.msgspec.MsgspecFormatter",
    # The fields every line has; a record's `extra` fields (the access log's) follow them.
    "fmt": "{levelname}{name}{message}",
    "style": "{",
    "timestamp": "time",
    "rename_fields": {"levelname": "level", "name": "logger"},
    # uvicorn repeats its messages with terminal colours in `color_message`.
    "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
}


def writes_json(log_format: str, stream: TextIO | None = None) -> bool:
    """`auto` means JSON unless a person is watching the output."""
    if log_format != "auto":
        return log_format == "json"
    return not (stream or sys.stderr).isatty()


def log_config(log_format: str) -> dict[str, Any]:
    """A `logging.dictConfig` for uvicorn and us; uvicorn applies it in every worker."""
    formatter = JSON_FORMATTER if writes_json(log_format) else {"format": TEXT_FORMAT}
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
