"""WAL checkpoints on a thread of their own (storage/checkpoints.py): what the server commits
reaches the database file within moments, far below the 1,000 pages at which SQLite would
checkpoint by itself, a checkpoint that fails is logged once and tried again, and under a
steady stream of writes the WAL starts over rather than growing with every write."""

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from gong_meetings.storage import checkpoints
from gong_meetings.storage.checkpoints import Checkpointer
from gong_meetings.storage.database import Database

ROWS = 50
ROW_BYTES = 1_000  # 50 rows of this are about 13 pages of the WAL
WAIT_SECONDS = 5.0


def create_notes(connection: Connection) -> None:
    connection.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")


def wait_for_size(path: Path, at_least: int) -> int:
    """The file's size once it reaches `at_least` bytes, or its size after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while path.stat().st_size < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
    return path.stat().st_size


def test_commits_reach_the_database_file_soon(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.db"
    database = Database(f"sqlite:///{path}")
    try:
        database.transaction(create_notes)

        async def write() -> None:
            for index in range(ROWS):
                await database.run(
                    lambda c, i=index: c.exec_driver_sql(
                        "INSERT INTO notes (id, body) VALUES (?, ?)", (i, "x" * ROW_BYTES)
                    )
                )

        asyncio.run(write())
        # Only a checkpoint copies the rows from the WAL into the database file.
        assert wait_for_size(path, ROWS * ROW_BYTES) >= ROWS * ROW_BYTES
    finally:
        database.close()


def test_a_steady_stream_of_writes_keeps_the_wal_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes one after another, so that a commit lands between each checkpoint and the next
    write, as under steady load: without the restart, the WAL holds every one of them."""
    monkeypatch.setattr(checkpoints, "RESTART_WAL_AT_FRAMES", 64)
    monkeypatch.setattr(checkpoints, "CHECKPOINT_EVERY_SECONDS", 0.005)
    path = tmp_path / "stream.db"
    wal = tmp_path / "stream.db-wal"
    database = Database(f"sqlite:///{path}")
    writers, rows_each = 16, 200
    largest_wal = 0
    try:
        database.transaction(create_notes)

        async def write(writer: int) -> None:
            nonlocal largest_wal
            for index in range(rows_each):
                await database.run(
                    lambda c, i=writer * rows_each + index: c.exec_driver_sql(
                        "INSERT INTO notes (id, body) VALUES (?, ?)", (i, "x" * ROW_BYTES)
                    )
                )
                largest_wal = max(largest_wal, wal.stat().st_size)

        async def stream() -> None:
            await asyncio.gather(*(write(writer) for writer in range(writers)))

        asyncio.run(stream())
        count = database.transaction(
            lambda c: c.exec_driver_sql("SELECT count(*) FROM notes").scalar_one()
        )
        assert count == writers * rows_each  # every write stored
        # Without the restart the WAL ends with every write, about 9,000 frames here; with it,
        # it peaks at what is written between two checkpoints past the 64, about 1,000.
        frames = largest_wal / (24 + 4096)
        assert frames < 3_000, frames
    finally:
        database.close()


class FlakyEngine:
    """An engine whose first `failures` connections fail, as a failing disk would."""

    def __init__(self, engine: Engine, failures: int) -> None:
        self._engine = engine
        self.failures = failures

    def connect(self) -> Any:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("disk I/O error")
        return self._engine.connect()


def test_a_failing_checkpoint_is_logged_once_and_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "flaky.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # as the group commit's connection
    writer.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    flaky = FlakyEngine(engine, failures=3)
    checkpointer = Checkpointer(flaky, every_seconds=0.01)  # type: ignore[arg-type]
    try:
        with caplog.at_level(logging.WARNING, logger="gong_meetings.storage"):
            for index in range(ROWS):
                writer.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (index, "x" * 1000))
                checkpointer.after_commit()
                time.sleep(0.005)
            assert wait_for_size(path, ROWS * ROW_BYTES) >= ROWS * ROW_BYTES
        assert flaky.failures == 0
        warnings = [r for r in caplog.records if "WAL checkpoint failed" in r.getMessage()]
        assert len(warnings) == 1
    finally:
        checkpointer.close()
        writer.close()
        engine.dispose()
