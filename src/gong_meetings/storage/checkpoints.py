"""SQLite's WAL checkpoints, on a thread of their own rather than in the group commit's.

By default SQLite checkpoints inside the commit that leaves more than 1,000 pages in the WAL:
the committing thread copies those pages into the database file and syncs both files (with
`synchronous = NORMAL`, that sync is when commits reach the disk). With writes spread over a
large table, those copies were a quarter of an update's time on the group commit's thread,
and the next batch of requests waited for them (bench/README.md).

So the group commit's connection does not checkpoint. After each of its commits it wakes this
thread, which checkpoints on a connection of its own, at most every CHECKPOINT_EVERY_SECONDS,
in PASSIVE mode: it neither waits for nor holds up readers and the writer. A commit therefore
reaches the disk within about that long of being acknowledged, under any load; before, it
waited for the WAL to reach 1,000 pages, which under a light load could take hours.

SQLite writes the WAL from its start again only when a write begins with every frame in it
checkpointed. Under a steady stream of writes that never happens here, as commits land between
each checkpoint and the next write: the WAL grew by the size of every write, 950 MB in seven
seconds of creates, and each frame went to a new part of the file, which the kernel zeroes and
allocates first (a tenth of a create's time; bench/README.md, twelfth session). So once the WAL
holds RESTART_WAL_AT_FRAMES, `restart_wanted` asks the group commit to checkpoint the little
that is left itself, just before its next batch begins; that batch then starts the WAL over.
"""

import contextlib
import logging
import threading
import time

from sqlalchemy import Connection, Engine

from gong_meetings.storage.driver import discard, fetch_one

log = logging.getLogger("gong_meetings.storage")
CHECKPOINT_EVERY_SECONDS = 0.05
# 64 MiB of 4 KiB pages, about what the WAL is kept to under a steady stream of writes. The
# checkpoint that starts it over holds the event loop while it syncs what the last batches
# changed: 1.5 ms on an empty database, 15 ms for updates spread over a million meetings. At
# 16 MiB that came four times a second and made the p99 of such updates 19 ms (bench/README.md).
RESTART_WAL_AT_FRAMES = 16_384


class Checkpointer:
    def __init__(self, engine: Engine, every_seconds: float | None = None) -> None:
        self._engine = engine
        self._every_seconds = CHECKPOINT_EVERY_SECONDS if every_seconds is None else every_seconds
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._failing = False
        # Set by this thread, read and cleared by the group commit; a plain flag suffices.
        self.restart_wanted = False

    def after_commit(self) -> None:
        """A commit added to the WAL: checkpoint soon."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._serve, name="gong-checkpoint", daemon=True
                    )
                    self._thread.start()
        self._wanted.set()

    def close(self) -> None:
        """Checkpoint what is left, then stop the thread."""
        if self._thread is not None:
            self._stopping = True
            self._wanted.set()
            self._thread.join()
            self._thread = None
            self._stopping = False

    def _serve(self) -> None:
        connection: Connection | None = None
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                stopping = self._stopping
                started = time.monotonic()
                connection = self._checkpoint(connection)
                if stopping:
                    return
                # Commits in the meantime set `_wanted` again; they wait for the next round.
                time.sleep(max(0.0, self._every_seconds - (time.monotonic() - started)))
        finally:
            if connection is not None:
                discard(connection)

    def _checkpoint(self, connection: Connection | None) -> Connection | None:
        """One PASSIVE checkpoint; the connection to use for the next, None after a failure
        (the next round starts on a fresh one)."""
        try:
            if connection is None:
                connection = self._engine.connect()
                # Another process's checkpoint holds the lock: skip this round, do not wait.
                fetch_one(connection, "PRAGMA busy_timeout = 0", {})
            # (1 when blocked, the frames in the WAL, the frames of it checkpointed)
            row = fetch_one(connection, "PRAGMA wal_checkpoint(PASSIVE)", {})
            self.restart_wanted = row is not None and row[1] >= RESTART_WAL_AT_FRAMES
            self._failing = False
            return connection
        except Exception as error:  # the database is failing; the writes will say so
            if not self._failing:
                log.warning("WAL checkpoint failed, trying again after each commit: %r", error)
            self._failing = True
            if connection is not None:
                with contextlib.suppress(Exception):
                    discard(connection)
            return None
