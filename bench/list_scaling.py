"""Does listing meetings slow down as a workspace grows? A page at N meetings against a page
at a small baseline, measured in one run on the same machine.

    python bench/list_scaling.py                      # 1,000 against 1,000,000 meetings
    python bench/list_scaling.py --meetings 200000    # a quicker look

Each size gets a fresh SQLite database (or, with --database-url, the given empty PostgreSQL
database, emptied between sizes), loaded in bulk through the storage layer, then the app
is driven in-process over the ASGI transport. It prints, per operation, the median and p99
latency at each size and the ratio large/baseline of the medians: about 1 means the cost does
not grow with the table. The table is also written as JSON under bench/results/.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import text

from gong_meetings.config import Settings
from gong_meetings.records import Quota
from gong_meetings.server import create_app
from gong_meetings.service.accounts import AccountService
from gong_meetings.storage.database import Database
from gong_meetings.storage.meetings import insert_many
from gong_meetings.storage.migrate import upgrade
from gong_meetings.storage.tables import metadata
from gong_meetings.wire import Meeting, MeetingAttendee

RESULTS = Path(__file__).parent / "results"
ORGANIZERS = 1_000
ATTENDEES = 10_000
FIRST_START = datetime(2030, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 3 * 365 * 86_400
BATCH = 10_000
PAGE = "20"


def load(database: Database, count: int, workspace_id: int) -> None:
    """`count` meetings with spread-out starts, organizers and attendees, inserted in bulk."""
    rng = random.Random(count)
    for first in range(0, count, BATCH):
        batch = []
        for n in range(first, min(first + BATCH, count)):
            start = FIRST_START + timedelta(seconds=rng.randrange(SPAN_SECONDS))
            batch.append(
                Meeting(
                    id=str(10**15 + n),
                    title=f"Meeting {n}",
                    scheduled_start=start,
                    scheduled_end=start + timedelta(minutes=30),
                    organizer_email=f"organizer{rng.randrange(ORGANIZERS)}@bench.test",
                    meeting_url=f"https://meet.bench.test/{n}",
                    attendees=[
                        MeetingAttendee(
                            email_address=f"person{rng.randrange(ATTENDEES)}@bench.test"
                        )
                        for _ in range(2)
                    ],
                )
            )
        database.transaction(lambda c, batch=batch: insert_many(c, workspace_id, batch))


def settle(database: Database) -> None:
    """Leave the loaded database as a long-running one is: on SQLite, its WAL copied into the
    file, and the file on disk. Otherwise the first checkpoint under measurement writes back a
    gigabyte the load left in the page cache: one batch of creates took 257 ms, and the writes
    measured right after a load ran at 0.7 of their speed on an empty database."""
    if database.is_sqlite:
        raw = database.engine.raw_connection()  # outside any transaction, as a checkpoint must be
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
    os.sync()


def prepare(url: str, count: int) -> tuple[int, tuple[str, str]]:
    database = Database(url)
    try:
        if not database.is_sqlite:
            with database.engine.begin() as connection:
                names = ", ".join(t.name for t in metadata.sorted_tables)
                connection.execute(text(f"DROP TABLE IF EXISTS {names}, alembic_version CASCADE"))
        upgrade(database.engine)
        accounts = AccountService(database)
        workspace = accounts.create_workspace("bench", True, Quota(2**31 - 1, 2**31 - 1))
        key = accounts.create_key("bench")
        started = time.perf_counter()
        load(database, count, workspace.id)
        settle(database)
        print(f"  loaded {count:,} meetings in {time.perf_counter() - started:.0f} s")
        return workspace.id, (key.access_key, key.access_key_secret)
    finally:
        database.close()


def operations(auth: tuple[str, str]) -> dict[str, Callable[[httpx.AsyncClient], object]]:
    middle = (FIRST_START + timedelta(seconds=SPAN_SECONDS // 2)).isoformat()
    end = (FIRST_START + timedelta(seconds=SPAN_SECONDS // 2 + 86_400)).isoformat()

    def listing(**params: str) -> Callable[[httpx.AsyncClient], object]:
        return lambda http: http.get("/v2/meetings", params={"limit": PAGE, **params}, auth=auth)

    return {
        "list, first page": listing(),
        "list, from the middle": listing(fromDateTime=middle),
        "list, one day's window": listing(fromDateTime=middle, toDateTime=end),
        "list, by organizer": listing(organizerEmail="organizer7@bench.test"),
        "list, by attendee": listing(attendeeEmail="person7@bench.test"),
        "get one meeting": lambda http: http.get(f"/v2/meetings/{10**15 + 1}", auth=auth),
    }


async def measure(url: str, auth: tuple[str, str], requests: int) -> dict[str, list[float]]:
    app = create_app(Settings(database_url=url))
    timings: dict[str, list[float]] = {}
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for name, call in operations(auth).items():
                for _ in range(requests // 10):  # warm-up
                    await call(http)  # type: ignore[misc]
                samples = []
                for _ in range(requests):
                    started = time.perf_counter()
                    response = await call(http)  # type: ignore[misc]
                    samples.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (name, response.text)
                timings[name] = samples
    return timings


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meetings", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url", help="an empty PostgreSQL database to use instead")
    args = parser.parse_args()

    results: dict[int, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for count in (args.baseline, args.meetings):
            url = args.database_url or f"sqlite:///{folder}/bench-{count}.db"
            print(f"{count:,} meetings:")
            _, auth = prepare(url, count)
            results[count] = asyncio.run(measure(url, auth, args.requests))

    small, large = results[args.baseline], results[args.meetings]
    rows = []
    header = f"{'operation':<24} {'median ms':>18} {'p99 ms':>18} {'ratio':>6}"
    sizes = f"{args.baseline:>8,} {args.meetings:>9,}"
    print(f"\n{'':<24} {sizes} {sizes}")
    print(header)
    for name in small:
        medians = statistics.median(small[name]), statistics.median(large[name])
        tails = p99(small[name]), p99(large[name])
        ratio = medians[1] / medians[0]
        rows.append(
            {"operation": name, "median_ms": medians, "p99_ms": tails, "ratio": round(ratio, 2)}
        )
        print(
            f"{name:<24} {medians[0]:>8.2f} {medians[1]:>9.2f}"
            f" {tails[0]:>8.2f} {tails[1]:>9.2f} {ratio:>6.2f}"
        )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"list-scaling-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "baseline": args.baseline,
                "meetings": args.meetings,
                "database": "postgresql" if args.database_url else "sqlite",
                "machine": f"{platform.machine()}, {platform.python_version()}",
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
