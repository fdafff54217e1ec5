"""Work of many requests done by one transaction on PostgreSQL (creates, for now).

A create there was three round trips (BEGIN, its statement, COMMIT), each through the
asyncio driver and SQLAlchemy's greenlet bridge: about 550 µs of the server's CPU, more than
twice a get's (bench/README.md, thirteenth session). The creates that arrive in one turn of
the event loop are instead handed to one function that stores them all in one statement, in
one transaction, and each request is answered with its own outcome after the commit, as
SQLite's group commit does for every write (group_commit). Only work that takes no lock another
request could hold is batched this way, so that no request waits behind another's conflict.

A batch that fails for a reason of its own data (a constraint, a value the database refuses)
is run again one item at a time, so that one bad item fails alone. Any other failure (the
database unreachable, a connection lost) is every item's, as it would have been alone.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import Connection

from gong_meetings.storage.driver import is_data_error

Item = TypeVar("Item")
Result = TypeVar("Result")
# Bounds a statement's size, and how many requests one failure can fail.
MAX_BATCH = 64

StoreAll = Callable[[Connection, Sequence[Item]], list[Result]]
RunTransaction = Callable[[Callable[[Connection], list[Result]]], Awaitable[list[Result]]]


class Batcher(Generic[Item, Result]):
    def __init__(
        self,
        store_all: StoreAll[Item, Result],
        run: RunTransaction[Result],
        max_batch: int = MAX_BATCH,
    ) -> None:
        """`store_all` stores items in one transaction, which `run` runs, and answers each
        item's result in order."""
        self._store_all = store_all
        self._run = run
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running: set[asyncio.Task[None]] = set()  # a task needs a reference kept

    async def store(self, item: Item) -> Result:
        """`item`'s result, once the transaction that stored it with the others has ended."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._start_batches)
        self._waiting.append((item, future))
        return await future

    def _start_batches(self) -> None:
        waiting, self._waiting = self._waiting, []
        for first in range(0, len(waiting), self._max_batch):
            task = asyncio.ensure_future(self._store(waiting[first : first + self._max_batch]))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _store(self, batch: list[tuple[Item, "asyncio.Future[Result]"]]) -> None:
        try:
            await self._store_batch(batch)
        finally:  # cancelled, say: no request may wait for ever
            for _, future in batch:
                _settle(future, RuntimeError("the batch ended without an outcome for this"))

    async def _store_batch(self, batch: list[tuple[Item, "asyncio.Future[Result]"]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = await self._run(lambda connection: self._store_all(connection, items))
        except Exception as error:
            if len(batch) > 1 and is_data_error(error):
                for each in batch:  # which of them it was: each alone
                    await self._store_batch([each])
                return
            for _, future in batch:  # every item's, as it would have been alone
                _settle(future, error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # not cancelled meanwhile
                future.set_result(result)


def _settle(future: "asyncio.Future[Result]", error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
