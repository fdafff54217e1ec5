"""Log output: one JSON object per line for machines, readable lines on a terminal."""

import logging
import os
import stat
import sys
import threading
import time
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
        return _finish(line, record.created)


def _finish(line: dict[str, Any], created: float) -> str:
    line["time"] = datetime.fromtimestamp(created, UTC)
    return _ENCODER.encode(line).decode("utf-8")


# Lines handed over through `write_line` are written together, within this long of the first.
FLUSH_EVERY_SECONDS = 0.1
# No write to a pipe or a socket is larger, so several workers writing to one never split each
# other's lines (POSIX writes at most PIPE_BUF, 4096 bytes, to a pipe in one piece).
PIPE_WRITE_BYTES = 4096
# A regular file takes each write whole (Linux locks the file's offset for each), so writes to
# one gather more lines: at 4 KiB, the event loop wrote to the log every eleventh request.
FILE_WRITE_BYTES = 65_536


def most_bytes_a_write(stream: TextIO) -> int:
    """FILE_WRITE_BYTES for a regular file, PIPE_WRITE_BYTES for anything else."""
    try:
        regular = stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):  # no descriptor, as io.StringIO has none
        return PIPE_WRITE_BYTES
    return FILE_WRITE_BYTES if regular else PIPE_WRITE_BYTES


class JsonLineHandler(logging.StreamHandler[TextIO]):
    """The handler `serve` writes JSON lines with.

    `write_info` hands it access-log lines with no LogRecord made (see there). Those are
    gathered and written a few at a time, in writes of whole lines of at most 4 KiB to a pipe
    and 64 KiB to a file (most_bytes_a_write), at the latest FLUSH_EVERY_SECONDS after the
    first, by a thread of its own: one write per request was a tenth of a get's time. Any other
    record writes the gathered lines first, then itself, at once, as does a flush (logging
    flushes every handler at exit).
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._most_bytes = most_bytes_a_write(self.stream)
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None

    def setStream(self, stream: TextIO) -> TextIO | None:
        """The new stream's own limit; what is gathered goes to the old one (as it flushes)."""
        with self.lock:  # type: ignore[union-attr]
            old = super().setStream(stream)
            self._most_bytes = most_bytes_a_write(stream)
            return old

    def write_line(self, line: str) -> None:
        text = line + self.terminator
        size = len(text) if text.isascii() else len(text.encode("utf-8"))
        with self.lock:  # type: ignore[union-attr]  # made in Handler.__init__
            if self._pending_bytes + size > self._most_bytes:
                self._write_pending()
            self._pending.append(text)
            self._pending_bytes += size
            if len(self._pending) == 1:
                self._flush_soon()

    def emit(self, record: logging.LogRecord) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()
        super().emit(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()
            super().flush()

    def _write_pending(self) -> None:
        """Called with the lock held."""
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        try:
            self.stream.write(text)
            super().flush()
        except RecursionError:  # as StreamHandler.emit
            raise
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": text}))

    def _flush_soon(self) -> None:
        if self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_when_woken, name="gong-log", daemon=True
            )
            self._flusher.start()
        self._wake.set()

    def _flush_when_woken(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(FLUSH_EVERY_SECONDS)
            with self.lock:  # type: ignore[union-attr]
                self._wake.clear()
                self._write_pending()


def write_info(logger: logging.Logger, line: msgspec.Struct) -> bool:
    """Write `line` for `logger` as `logger.info` would write its record through
    JsonLineFormatter, but without the LogRecord and the calls through logging that cost two
    thirds of an access-log line. `line` is that whole object, a Struct whose fields encode in
    JsonLineFormatter's order: level, logger, message, the record's fields, time (encoding one
    Struct cost half of building and encoding the dict; bench/README.md, twelfth session).

    Only when every handler the record would reach is a JsonLineHandler with that formatter
    and nothing filters it; False when logging must write it (another handler, a filter, or
    none at all)."""
    if logger.disabled or logger.filters or not logger.isEnabledFor(logging.INFO):
        return False
    handlers: list[JsonLineHandler] = []
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if handler.level > logging.INFO:
                continue  # logging would pass it by too
            if (
                type(handler) is not JsonLineHandler
                or type(handler.formatter) is not JsonLineFormatter
                or handler.filters
            ):
                return False
            handlers.append(handler)
        current = current.parent if current.propagate else None
    if not handlers:
        return False
    text = _ENCODER.encode(line).decode("utf-8")
    for handler in handlers:
        handler.write_line(text)
    return True


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
    json = writes_json(log_format)
    formatter = JSON_FORMATTER if json else TEXT_FORMATTER
    handler = {"handlers": ["default"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "gong_meetings.logs.JsonLineHandler" if json else "logging.StreamHandler",
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
