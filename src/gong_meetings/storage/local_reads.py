"""SQLite reads on the calling thread: for the short reads on every request's path.

When the group commit ran on a thread of its own, sending a one-row read there cost more than
the read: a hop there, a wait behind the writes in its batch, a hop back. In WAL mode a reader
takes no lock a writer holds, so a read of a few rows does not wait: it runs here, on the event
loop, on a connection of its own, in a transaction of its own so that its statements see one
snapshot. That connection is `query_only`, so work given to it cannot write by mistake.

Only reads of a bounded size belong here (a meeting, a user, a key, a page of a list): the
event loop serves no one else while they run. A filtered list's first page, which counts every
match, is a scan (`Database.scan`): the same reader, on a thread of its own.
"""

import contextlib
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from gong_meetings.storage.driver import discard, end_transaction, execute

T = TypeVar("T")


class LocalReader:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def read(self, work: Callable[[Connection], T], *, one_statement: bool = False) -> T:
        """`work`'s result, from one snapshot of the database. Work that runs `one_statement`
        needs no transaction around it: SQLite runs a lone SELECT in a snapshot of its own,
        and BEGIN and COMMIT cost a get a twentieth of its time."""
        connection = self._connect()
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

    def close(self) -> None:
        if self._connection is not None:
            discard(self._connection)
            self._connection = None

    def _connect(self) -> Connection:
        if self._connection is None:
            connection = self._engine.connect()
            execute(connection, "PRAGMA query_only = ON", {})
            self._connection = connection
        return self._connection
