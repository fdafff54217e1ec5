"""SQLite reads on the calling thread: for the short reads on every request's path.

When the group commit ran on a thread of its own, sending a one-row read there cost more than
the read: a hop there, a wait behind the writes in its batch, a hop back. In WAL mode a reader
takes no lock a writer holds, so a read of a few rows does not wait: it runs here, on the event
loop, on a connection of its own, in a transaction of its own so that its statements see one
snapshot. That connection is `query_only`, so work given to it cannot write by mistake.

Only reads of a bounded size belong here (a meeting, a user, a key, a page of a list): the
event loop serves no one else while they run. A filtered list's first page, which counts every
match, is a scan (`Database.scan`): the same reader, on a thread of its own.

Under `serve` (`per_turn`, see Database), the reads of one turn of the loop share one snapshot:
the first read of a turn begins a transaction, and a callback ends it at the start of the next
turn. Alone, each statement took its own snapshot, two `fcntl` locks on the WAL's index, a
third of a short read's time (bench/README.md, ninth session). This loses no acknowledged
write: a read in the snapshot runs in a callback scheduled before the snapshot's end was (the
loop runs callbacks in the order they were scheduled), so scheduled before the snapshot began,
and so after whatever its request waited for had happened, a write acknowledged to any client
before the request was sent among them. A read that needs the next turn's writes (its own,
committed by the group commit at the end of this turn) awaits them, and so runs in a later
turn, in a later snapshot. That holds when requests come only from sockets; a caller in this
process could write and then call the app within one turn, so an app made for one reads a
snapshot per read.
"""

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from gong_meetings.storage.driver import discard, end_transaction, execute

T = TypeVar("T")


class LocalReader:
    def __init__(self, engine: Engine, *, per_turn: bool = False) -> None:
        """`per_turn`: called on an event loop, whose reads in one turn share a snapshot (see
        the module's docstring)."""
        self._engine = engine
        self._connection: Connection | None = None
        self._per_turn = per_turn
        self._turn_snapshot: Connection | None = None  # the connection whose turn's is open

    def read(self, work: Callable[[Connection], T], *, one_statement: bool = False) -> T:
        """`work`'s result, from one snapshot of the database. Work that runs `one_statement`
        needs no transaction around it: SQLite runs a lone SELECT in a snapshot of its own,
        and BEGIN and COMMIT cost a get a twentieth of its time. `per_turn`, every read is in
        its turn's snapshot, one statement or many."""
        connection = self._connect()
        if self._per_turn:
            return self._read_in_turn(connection, work)
        try:
            if one_statement:
                return work(connection)
            execute(connection, "BEGIN", {})
            result = work(connection)
            end_transaction(connection, "COMMIT")
            return result
        except Exception as error:
            if not one_statement:
                with contextlib.suppress(Exception):
                    end_transaction(connection, "ROLLBACK")
            if isinstance(error, DBAPIError):  # the next read starts on a fresh connection
                self.close()
            raise

    def _read_in_turn(self, connection: Connection, work: Callable[[Connection], T]) -> T:
        try:
            if self._turn_snapshot is not connection:
                loop = asyncio.get_running_loop()  # first: no transaction left open without one
                execute(connection, "BEGIN", {})
                self._turn_snapshot = connection
                loop.call_soon(self._end_turn_snapshot, connection)
            return work(connection)
        except DBAPIError:  # the next read starts on a fresh connection
            self.close()
            raise

    def _end_turn_snapshot(self, connection: Connection) -> None:
        if self._turn_snapshot is not connection:
            return  # closed since, with its transaction
        self._turn_snapshot = None
        try:
            end_transaction(connection, "COMMIT")
        except DBAPIError:
            self.close()

    def close(self) -> None:
        self._turn_snapshot = None
        if self._connection is not None:
            discard(self._connection)
            self._connection = None

    def _connect(self) -> Connection:
        if self._connection is None:
            connection = self._engine.connect()
            execute(connection, "PRAGMA query_only = ON", {})
            self._connection = connection
        return self._connection
