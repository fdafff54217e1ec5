"""logs.write_info: the access log's line written without a LogRecord is the line logging
writes, and logging writes it instead whenever anything could see or change the record.
logs.JsonLineHandler gathers such lines into a few writes of whole lines, soon, and before any
other record."""

import io
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gong_meetings import logs

FIELDS = {"requestId": "r1", "workspace": None, "status": 200, "durationMs": 1.25}


class Line(msgspec.Struct, rename="camel"):
    """A line as logs.write_info takes it: JsonLineFormatter's keys, FIELDS among them."""

    level: str
    logger: str
    message: str
    request_id: str
    workspace: str | None
    status: int
    duration_ms: float
    time: datetime


def info_line(logger: logging.Logger, message: str) -> Line:
    return Line("INFO", logger.name, message, "r1", None, 200, 1.25, datetime.now(UTC))


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger of its own, `tests.log_lines.access`, under a parent that does not propagate;
    both are reset afterwards."""
    parent = logging.getLogger("tests.log_lines")
    child = logging.getLogger("tests.log_lines.access")
    yield child
    for each in (parent, child):
        for handler in each.handlers:
            handler.close()
        each.handlers.clear()
        each.filters.clear()


def start_clean(logger: logging.Logger) -> None:
    """Called in the test itself: pytest attaches its capture handler to every logger that does
    not propagate when the test starts, which would itself send the line through logging."""
    parent = logger.parent
    assert parent is not None
    for each in (parent, logger):
        each.handlers.clear()
        each.filters.clear()
        each.setLevel(logging.INFO)
        each.disabled = False
    logger.propagate, parent.propagate = True, False


def json_handler(level: int = logging.NOTSET) -> tuple[logs.JsonLineHandler, io.StringIO]:
    stream = io.StringIO()
    handler = logs.JsonLineHandler(stream)
    handler.setFormatter(logs.json_formatter())
    handler.setLevel(level)
    return handler, stream


def lines(handler: logs.JsonLineHandler) -> list[dict[str, object]]:
    """What `handler` has written, once it has written what it gathered."""
    handler.flush()
    assert isinstance(handler.stream, io.StringIO)
    return [json.loads(line) for line in handler.stream.getvalue().splitlines()]


def without_time(line: dict[str, object]) -> dict[str, object]:
    return {name: value for name, value in line.items() if name != "time"}


def test_the_direct_line_is_the_line_logging_writes(logger: logging.Logger) -> None:
    start_clean(logger)
    handler, _ = json_handler()
    logger.parent.addHandler(handler)  # type: ignore[union-attr]
    assert logs.write_info(logger, info_line(logger, "GET /x 200 50% done")) is True
    logger.info("GET /x 200 50% done", extra=FIELDS)
    direct, logged = lines(handler)
    assert without_time(direct) == without_time(logged)
    assert list(direct) == list(logged)  # the same keys in the same order, time last
    assert direct["message"] == "GET /x 200 50% done"
    assert str(direct["time"]).endswith("Z")


def test_every_handler_on_the_way_up_gets_the_line(logger: logging.Logger) -> None:
    start_clean(logger)
    mine, _ = json_handler()
    parents, _ = json_handler()
    logger.addHandler(mine)
    logger.parent.addHandler(parents)  # type: ignore[union-attr]
    assert logs.write_info(logger, info_line(logger, "m")) is True
    assert len(lines(mine)) == len(lines(parents)) == 1


def test_a_handler_above_info_is_passed_by_as_logging_would(logger: logging.Logger) -> None:
    start_clean(logger)
    quiet, _ = json_handler(logging.WARNING)
    loud, _ = json_handler()
    logger.addHandler(quiet)
    logger.addHandler(loud)
    assert logs.write_info(logger, info_line(logger, "m")) is True
    assert lines(quiet) == []
    assert len(lines(loud)) == 1


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _refuse_all(record: logging.LogRecord) -> bool:
    return False


@pytest.mark.parametrize(
    "setup",
    [
        "a filter on the logger",
        "a filter on the handler",
        "another kind of handler on the way up",
        "another formatter",
        "the logger disabled",
        "the logger above info",
        "no handler at all",
    ],
)
def test_logging_writes_it_when_anything_could_see_or_change_the_record(
    logger: logging.Logger, setup: str
) -> None:
    start_clean(logger)
    handler, stream = json_handler()
    logger.addHandler(handler)
    if setup == "a filter on the logger":
        logger.addFilter(_refuse_all)
    elif setup == "a filter on the handler":
        handler.addFilter(_refuse_all)
    elif setup == "another kind of handler on the way up":
        logger.parent.addHandler(_Records())  # type: ignore[union-attr]
    elif setup == "another formatter":
        handler.setFormatter(logging.Formatter())
    elif setup == "the logger disabled":
        logger.disabled = True
    elif setup == "the logger above info":
        logger.setLevel(logging.WARNING)
    elif setup == "no handler at all":
        logger.removeHandler(handler)
    assert logs.write_info(logger, info_line(logger, "m")) is False
    assert stream.getvalue() == ""


def test_serve_configures_the_handler_that_takes_direct_lines() -> None:
    config = logs.log_config("json")
    assert config["handlers"]["default"]["class"] == "gong_meetings.logs.JsonLineHandler"
    assert logs.log_config("text")["handlers"]["default"]["class"] == "logging.StreamHandler"


def test_a_failed_write_is_reported_as_logging_reports_it(
    logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    start_clean(logger)
    handler, stream = json_handler()
    logger.addHandler(handler)
    stream.close()  # writing to it raises ValueError
    assert logs.write_info(logger, info_line(logger, "m")) is True  # the request goes on regardless
    handler.flush()
    assert "--- Logging error ---" in capsys.readouterr().err


class _Writes(io.StringIO):
    """A stream that keeps each write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def _write_lines(logger: logging.Logger, stream: Any, messages: list[str]) -> logs.JsonLineHandler:
    """A handler on `stream` for `logger`, once it has written a line of each message."""
    handler = logs.JsonLineHandler(stream)
    handler.setFormatter(logs.json_formatter())
    logger.addHandler(handler)
    for message in messages:
        assert logs.write_info(logger, info_line(logger, message)) is True
    handler.flush()
    return handler


def test_lines_are_written_together_in_whole_lines_of_at_most_4_kib(
    logger: logging.Logger,
) -> None:
    start_clean(logger)
    stream = _Writes()
    handler = _write_lines(logger, stream, [f"request {number}" for number in range(100)])
    assert 100 // len(stream.writes) >= 10  # about 200 bytes a line: 20 a write
    assert all(len(text.encode()) <= 4096 and text.endswith("\n") for text in stream.writes)
    assert [line["message"] for line in lines(handler)] == [f"request {n}" for n in range(100)]


class _CountedWrites:
    """A text stream over a real descriptor that keeps each write apart."""

    def __init__(self, stream: io.TextIOWrapper) -> None:
        self.stream = stream
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()


def test_lines_to_a_file_are_written_in_pieces_of_up_to_64_kib(
    logger: logging.Logger, tmp_path: Path
) -> None:
    start_clean(logger)
    with (tmp_path / "log").open("w") as file:
        stream = _CountedWrites(file)
        _write_lines(logger, stream, [f"request {n}" for n in range(1_000)])  # about 170 KB
    sizes = [len(text.encode()) for text in stream.writes]
    assert all(size <= logs.FILE_WRITE_BYTES for size in sizes), sizes
    assert 3 <= len(sizes) <= 5, sizes  # 4 KiB pieces would be about 50
    written = (tmp_path / "log").read_text().splitlines()
    assert [json.loads(line)["message"] for line in written] == [
        f"request {n}" for n in range(1_000)
    ]


def test_lines_to_a_pipe_are_written_in_pieces_of_up_to_4_kib(logger: logging.Logger) -> None:
    start_clean(logger)
    read_end, write_end = os.pipe()
    received = bytearray()
    reader = threading.Thread(target=lambda: received.extend(_read_all(read_end)))
    reader.start()
    with open(write_end, "w") as pipe:  # a descriptor, not a path
        stream = _CountedWrites(pipe)
        _write_lines(logger, stream, [f"request {n}" for n in range(200)])
    reader.join()
    sizes = [len(text.encode()) for text in stream.writes]
    assert all(size <= logs.PIPE_WRITE_BYTES for size in sizes), sizes
    assert len(sizes) >= 200 * 150 // logs.PIPE_WRITE_BYTES, sizes
    assert len(received.decode().splitlines()) == 200


def _read_all(descriptor: int) -> bytes:
    with open(descriptor, "rb") as pipe:
        return pipe.read()


def test_a_line_with_characters_beyond_ascii_counts_its_bytes(logger: logging.Logger) -> None:
    start_clean(logger)
    stream = _Writes()
    _write_lines(logger, stream, [f"réunion {number} " + "é" * 300 for number in range(100)])
    assert all(len(text.encode()) <= logs.PIPE_WRITE_BYTES for text in stream.writes)


def test_gathered_lines_are_written_soon_without_anyone_asking(logger: logging.Logger) -> None:
    start_clean(logger)
    handler, stream = json_handler()
    logger.addHandler(handler)
    assert logs.write_info(logger, info_line(logger, "m")) is True
    deadline = time.monotonic() + 10 * logs.FLUSH_EVERY_SECONDS + 5
    while stream.getvalue() == "" and time.monotonic() < deadline:
        time.sleep(logs.FLUSH_EVERY_SECONDS / 10)
    assert json.loads(stream.getvalue())["message"] == "m"


def test_any_other_record_writes_the_gathered_lines_first(logger: logging.Logger) -> None:
    start_clean(logger)
    handler, stream = json_handler()
    logger.addHandler(handler)
    assert logs.write_info(logger, info_line(logger, "gathered")) is True
    logger.warning("at once")
    messages = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert messages == ["gathered", "at once"]
