"""Queries on meetings, always scoped to one workspace."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Connection

from gong_meetings.records import ShownStoredMeeting, StoredMeeting
from gong_meetings.storage.accounts import user_exists
from gong_meetings.storage.driver import execute, fetch_all, fetch_one, instant, sqlite_changes
from gong_meetings.storage.tables import meeting_people, meetings
from gong_meetings.storage.timestamps import from_db, now, to_db
from gong_meetings.wire import Meeting, MeetingAttendee, ShownMeeting, encode

_attendees_encoder = msgspec.json.Encoder()
_attendees_decoder = msgspec.json.Decoder(list[MeetingAttendee])


def _values(meeting: Meeting) -> dict[str, object]:
    """A meeting's columns and its JSON (`shown`), but its date-times, which each writer gives
    as it needs them, and `shown_version`, which each sets to the version it writes."""
    return {
        "shown": encode(meeting).decode("utf-8"),
        "title": meeting.title,
        "organizer_email": meeting.organizer_email,
        "meeting_url": meeting.meeting_url,
        "attendees": _attendees_encoder.encode(meeting.attendees).decode("utf-8"),
        "description": meeting.description,
        "meeting_provider": meeting.meeting_provider,
        "external_meeting_id": meeting.external_meeting_id,
    }


# What a meeting is read as, in this order, by every query that reads meetings.
MEETING_COLUMNS = (
    "id",
    "title",
    "scheduled_start",
    "scheduled_end",
    "organizer_email",
    "meeting_url",
    "attendees",
    "description",
    "meeting_provider",
    "external_meeting_id",
    "version",
)
_GET_MEETING = (  # built from the constant above only: nothing comes from a request
    f"SELECT {', '.join(MEETING_COLUMNS)} FROM meetings"  # noqa: S608
    " WHERE id = :meeting_id AND workspace_id = :workspace_id"
)
# A meeting's stored JSON, if it was written for the meeting's current version: an older
# gong-meetings writes none, and leaves the one it finds as it was (migration 0006).
_SHOWN = "CASE WHEN meetings.shown_version = meetings.version THEN meetings.shown END"
_SHOW_MEETING = (
    f"SELECT meetings.version, {_SHOWN} FROM meetings"  # noqa: S608 (constants only)
    " WHERE id = :meeting_id AND workspace_id = :workspace_id"
)


# Meeting, or ShownMeeting, which has the same fields in the same order.
M = TypeVar("M", Meeting, ShownMeeting)


def _from_row(row: Sequence[Any], kind: type[M], attendees: Any) -> M:
    """A row of MEETING_COLUMNS as `kind`, with `attendees` for its stored attendees. The
    fields by position, in the kinds' own order (id, title, scheduledStart, scheduledEnd,
    organizerEmail, meetingUrl, attendees, description, meetingProvider, externalMeetingId):
    by keyword, a quarter of a row's making went to matching the names, twenty times a page."""
    return kind(
        str(row[0]),
        row[1],
        from_db(row[2]),
        from_db(row[3]),
        row[4],
        row[5],
        attendees,
        row[7],
        row[8],
        row[9],
    )


def _stored(row: Sequence[Any]) -> StoredMeeting:
    """A row of MEETING_COLUMNS as the meeting and its version."""
    return StoredMeeting(_from_row(row, Meeting, _attendees_decoder.decode(row[6])), row[10])


def _shown(row: Sequence[Any]) -> str:
    """A row of MEETING_COLUMNS as the JSON a response shows, its attendees' JSON passed
    through: for a meeting stored without its JSON (see _SHOWN)."""
    return encode(_from_row(row, ShownMeeting, msgspec.Raw(row[6]))).decode("utf-8")


ORGANIZER = "ORGANIZER"
ATTENDEE = "ATTENDEE"


def _people(
    meeting: Meeting, workspace_id: int, start: datetime | str | None = None
) -> list[dict[str, object]]:
    """The meeting's rows in meeting_people: its organizer and each attendee with an email.
    `start` is the meeting's start as a parameter, when not a datetime (see driver.instant)."""
    emails = {(ORGANIZER, meeting.organizer_email.lower())}
    for attendee in meeting.attendees:
        email = attendee.email_address
        if isinstance(email, str):
            emails.add((ATTENDEE, email.lower()))
    if start is None:
        start = to_db(meeting.scheduled_start)
    meeting_id = int(meeting.id)
    return [
        {
            "meeting_id": meeting_id,
            "role": role,
            "email": email,
            "workspace_id": workspace_id,
            "scheduled_start": start,
        }
        for role, email in sorted(emails)
    ]


# Which of its workspace's count rows (tables.meeting_counts) a transaction adds to. On
# PostgreSQL, its backend's: transactions that run at once are on backends of their own, so
# they rarely share a row, and one transaction always adds to one row, so two cannot wait for
# each other's. SQLite has one writer at a time, and so one row.
_SHARDS = 64
_SHARD_POSTGRES = f"mod(pg_backend_pid(), {_SHARDS})"  # `%` is the driver's placeholder


def _count_sql(shard: str) -> str:
    return (
        "INSERT INTO meeting_counts (workspace_id, shard, meetings)"  # noqa: S608 (constants)
        f" VALUES (:workspace_id, {shard}, :change) ON CONFLICT (workspace_id, shard)"
        " DO UPDATE SET meetings = meeting_counts.meetings + :change"
    )


_COUNT = _count_sql("0")
_COUNT_POSTGRES = _count_sql(_SHARD_POSTGRES)
# A new meeting's row: its columns, and their values, as parameters.
_NEW_MEETING_COLUMNS = (
    "INSERT INTO meetings (id, workspace_id, created_at, updated_at, version, title,"
    " scheduled_start, scheduled_end, organizer_email, meeting_url, attendees, description,"
    " meeting_provider, external_meeting_id, shown, shown_version)"
)
_NEW_MEETING_VALUES = (
    ":id, :workspace_id, :created_at, :updated_at, 1, :title, :scheduled_start,"
    " :scheduled_end, :organizer_email, :meeting_url, :attendees, :description,"
    " :meeting_provider, :external_meeting_id, :shown, 1"
)
# A new meeting on SQLite, where its id is free and, given an :organizer, the workspace has
# that user: one statement for both, whose count of rows stored (sqlite3 counts a skipped row
# as none) tells whether it was; only a create refused asks which of the two refused it.
# RETURNING cost about 4 µs of the statement's 13 (bench/README.md, fourteenth session).
_INSERT_MEETING = (
    f"{_NEW_MEETING_COLUMNS} SELECT {_NEW_MEETING_VALUES}"  # noqa: S608 (constants)
    " WHERE :organizer IS NULL OR EXISTS"
    " (SELECT 1 FROM users WHERE workspace_id = :workspace_id AND email = :organizer)"
    " ON CONFLICT (id) DO NOTHING"
)
_INSERT_PERSON = (
    "INSERT INTO meeting_people (meeting_id, role, email, workspace_id, scheduled_start)"
    " VALUES (:meeting_id, :role, :email, :workspace_id, :scheduled_start)"
)


def _row_parameters(connection: Connection, workspace_id: int, meeting: Meeting) -> dict[str, Any]:
    """The parameters of _INSERT_MEETING and _REPLACE_MEETING (but created_at and version),
    date-times written as the driver path writes them (driver.instant)."""
    return {
        **_values(meeting),
        "id": int(meeting.id),
        "workspace_id": workspace_id,
        "updated_at": instant(connection, now()),
        "scheduled_start": instant(connection, meeting.scheduled_start),
        "scheduled_end": instant(connection, meeting.scheduled_end),
    }


def _count(connection: Connection, workspace_id: int, change: int) -> None:
    """Add `change` to the workspace's meeting count, creating the count at its first meeting."""
    sql = _COUNT_POSTGRES if connection.dialect.name == "postgresql" else _COUNT
    execute(connection, sql, {"workspace_id": workspace_id, "change": change})


def insert_meeting(
    connection: Connection, workspace_id: int, meeting: Meeting, organizer: str | None = None
) -> bool | None:
    """Store a new meeting at version 1; False when its id is taken (another process's). With
    an `organizer` (lower-cased), only if the workspace has that user: None when it has not,
    and nothing is stored."""
    if connection.dialect.name == "postgresql":
        return insert_meetings(connection, [NewMeeting(workspace_id, meeting, organizer)])[0]
    parameters = _row_parameters(connection, workspace_id, meeting)
    parameters["created_at"] = parameters["updated_at"]
    parameters["organizer"] = organizer
    if not sqlite_changes(connection, _INSERT_MEETING, parameters):
        if organizer is not None and not user_exists(connection, workspace_id, organizer):
            return None
        return False
    people = _people(meeting, workspace_id, parameters["scheduled_start"])
    execute(connection, _INSERT_PERSON, people)
    _count(connection, workspace_id, 1)
    return True


@dataclass(frozen=True, slots=True)
class NewMeeting:
    """A meeting to store at version 1 in a workspace; with an `organizer` (lower-cased), only
    if the workspace has that user (see insert_meeting)."""

    workspace_id: int
    meeting: Meeting
    organizer: str | None


# New meetings on PostgreSQL, in one statement (WITH runs each INSERT in it, once): each
# meeting, where its organizer check passes and its id is free, with its people, and each
# workspace's count. For one create that was one round trip where there were three, the
# people's an executemany in pipeline mode that alone took 15% of a served create's time on the
# event loop (bench/README.md, sixth session), and the organizer's check a round trip fewer
# again (eighth session); for the creates of many requests it is one statement for them all
# (thirteenth session). Column by column as arrays, unnested in step; WITH ORDINALITY keeps
# each row's place, so the answer tells each create its own outcome. SQLite has no round trips
# to save, and no INSERT inside WITH.
_INSERT_MEETINGS_POSTGRES = (
    "WITH given AS (SELECT * FROM unnest(CAST(:ids AS bigint[]),"  # noqa: S608 (constants)
    " CAST(:workspace_ids AS integer[]), CAST(:organizers AS text[]),"
    " CAST(:stamps AS timestamptz[]), CAST(:titles AS text[]), CAST(:starts AS timestamptz[]),"
    " CAST(:ends AS timestamptz[]), CAST(:organizer_emails AS text[]),"
    " CAST(:meeting_urls AS text[]), CAST(:attendees AS text[]),"
    " CAST(:descriptions AS text[]), CAST(:providers AS text[]),"
    " CAST(:external_ids AS text[]), CAST(:shown AS text[])) WITH ORDINALITY AS g (id,"
    " workspace_id, organizer, stamp, title, scheduled_start, scheduled_end, organizer_email,"
    " meeting_url, attendees, description, meeting_provider, external_meeting_id, shown,"
    " place)),"
    " allowed AS (SELECT given.*, organizer IS NULL OR EXISTS (SELECT FROM users"
    " WHERE users.workspace_id = given.workspace_id AND users.email = given.organizer) AS yes"
    " FROM given),"
    f" meeting AS ({_NEW_MEETING_COLUMNS} SELECT id, workspace_id, stamp, stamp, 1, title,"
    " scheduled_start, scheduled_end, organizer_email, meeting_url, attendees, description,"
    " meeting_provider, external_meeting_id, shown, 1 FROM allowed WHERE yes"
    " ON CONFLICT (id) DO NOTHING RETURNING id, workspace_id, scheduled_start),"
    " people AS (INSERT INTO meeting_people (meeting_id, role, email, workspace_id,"
    " scheduled_start) SELECT meeting.id, person.role, person.email, meeting.workspace_id,"
    " meeting.scheduled_start FROM meeting JOIN unnest(CAST(:people_ids AS bigint[]),"
    " CAST(:roles AS text[]), CAST(:emails AS text[])) AS person (meeting_id, role, email)"
    " ON person.meeting_id = meeting.id),"
    " counted AS (INSERT INTO meeting_counts (workspace_id, shard, meetings)"
    f" SELECT workspace_id, {_SHARD_POSTGRES}, count(*) FROM meeting GROUP BY workspace_id"
    " ON CONFLICT (workspace_id, shard)"
    " DO UPDATE SET meetings = meeting_counts.meetings + excluded.meetings)"
    " SELECT allowed.yes, meeting.id IS NOT NULL FROM allowed"
    " LEFT JOIN meeting ON meeting.id = allowed.id ORDER BY allowed.place"
)


def insert_meetings(connection: Connection, new: Sequence[NewMeeting]) -> list[bool | None]:
    """Store new meetings: for each, in order, what insert_meeting would answer (True stored,
    False its id taken, None its organizer unknown and nothing stored). On PostgreSQL in one
    statement; their ids must differ from each other."""
    if connection.dialect.name != "postgresql":
        return [insert_meeting(connection, n.workspace_id, n.meeting, n.organizer) for n in new]
    stamp = now()
    columns: dict[str, list[Any]] = {
        name: []
        for name in (
            "ids", "workspace_ids", "organizers", "stamps", "titles", "starts", "ends",
            "organizer_emails", "meeting_urls", "attendees", "descriptions", "providers",
            "external_ids", "shown", "people_ids", "roles", "emails",
        )
    }  # fmt: skip
    for each in new:
        meeting = each.meeting
        meeting_id = int(meeting.id)
        values = _values(meeting)  # the columns as every writer stores them
        for name, value in (
            ("ids", meeting_id),
            ("workspace_ids", each.workspace_id),
            ("organizers", each.organizer),
            ("stamps", stamp),
            ("titles", values["title"]),
            ("starts", meeting.scheduled_start),
            ("ends", meeting.scheduled_end),
            ("organizer_emails", values["organizer_email"]),
            ("meeting_urls", values["meeting_url"]),
            ("attendees", values["attendees"]),
            ("descriptions", values["description"]),
            ("providers", values["meeting_provider"]),
            ("external_ids", values["external_meeting_id"]),
            ("shown", values["shown"]),
        ):
            columns[name].append(value)
        for person in _people(meeting, each.workspace_id, meeting.scheduled_start):
            columns["people_ids"].append(meeting_id)
            columns["roles"].append(person["role"])
            columns["emails"].append(person["email"])
    rows = fetch_all(connection, _INSERT_MEETINGS_POSTGRES, columns)
    return [stored if known else None for known, stored in rows]


def insert_many(connection: Connection, workspace_id: int, batch: list[Meeting]) -> None:
    """Store new meetings in bulk (loading, benchmarks): a few statements for the whole batch.
    Their ids must be free."""
    stamp = now()
    connection.execute(
        meetings.insert(),
        [
            {
                "id": int(m.id),
                "workspace_id": workspace_id,
                "created_at": stamp,
                "updated_at": stamp,
                "version": 1,
                "shown_version": 1,
                "scheduled_start": to_db(m.scheduled_start),
                "scheduled_end": to_db(m.scheduled_end),
                **_values(m),
            }
            for m in batch
        ],
    )
    connection.execute(
        meeting_people.insert(), [row for m in batch for row in _people(m, workspace_id)]
    )
    _count(connection, workspace_id, len(batch))


def get_meeting(
    connection: Connection, workspace_id: int, meeting_id: int, *, for_update: bool = False
) -> StoredMeeting | None:
    """The meeting and its version; `for_update` locks the row until the transaction ends
    (on PostgreSQL: SQLite's writer already holds the whole database)."""
    sql = _GET_MEETING
    if for_update and connection.dialect.name == "postgresql":
        sql += " FOR UPDATE"
    row = fetch_one(connection, sql, {"meeting_id": meeting_id, "workspace_id": workspace_id})
    return None if row is None else _stored(row)


def show_meeting(
    connection: Connection, workspace_id: int, meeting_id: int
) -> ShownStoredMeeting | None:
    """The meeting's JSON as a response shows it, and its version: the JSON stored with it,
    or made from its columns, read again, when an older version stored it (see _SHOWN)."""
    parameters = {"meeting_id": meeting_id, "workspace_id": workspace_id}
    row = fetch_one(connection, _SHOW_MEETING, parameters)
    if row is None:
        return None
    if row[1] is not None:
        return ShownStoredMeeting(msgspec.Raw(row[1]), row[0])
    columns = fetch_one(connection, _GET_MEETING, parameters)  # None: deleted since
    return (
        None if columns is None else ShownStoredMeeting(msgspec.Raw(_shown(columns)), columns[10])
    )


_REPLACE_MEETING = (
    "UPDATE meetings SET updated_at = :updated_at, version = :version, title = :title,"
    " scheduled_start = :scheduled_start, scheduled_end = :scheduled_end,"
    " organizer_email = :organizer_email, meeting_url = :meeting_url, attendees = :attendees,"
    " description = :description, meeting_provider = :meeting_provider,"
    " external_meeting_id = :external_meeting_id, shown = :shown, shown_version = :version"
    " WHERE id = :id AND workspace_id = :workspace_id"
)
# SQLite rewrites an index's entry whenever an UPDATE sets one of its columns, even to the
# value it had: most updates keep the start, and leave the listing index alone this way (the
# UPDATE alone 11.7 µs against 7.7 to 9.1; bench/README.md, fourteenth session).
_REPLACE_MEETING_SAME_START = _REPLACE_MEETING.replace(" scheduled_start = :scheduled_start,", "")
_FORGET_PEOPLE = "DELETE FROM meeting_people WHERE meeting_id = :meeting_id"


def replace_meeting(
    connection: Connection, workspace_id: int, meeting: Meeting, version: int, before: Meeting
) -> int:
    """Store `meeting` over version `version`, which was `before`; the new version number.
    Its people rows are rewritten only when they change (start, organizer or attendees)."""
    parameters = _row_parameters(connection, workspace_id, meeting)
    parameters["version"] = version + 1
    same_start = meeting.scheduled_start == before.scheduled_start
    execute(connection, _REPLACE_MEETING_SAME_START if same_start else _REPLACE_MEETING, parameters)
    if _same_people(meeting, before):
        return version + 1
    people = _people(meeting, workspace_id, parameters["scheduled_start"])
    if people != _people(before, workspace_id, instant(connection, before.scheduled_start)):
        execute(connection, _FORGET_PEOPLE, {"meeting_id": int(meeting.id)})
        execute(connection, _INSERT_PERSON, people)
    return version + 1


def _same_people(meeting: Meeting, before: Meeting) -> bool:
    """Whether the two have the same people rows for certain: the rows are made from the start,
    the organizer and the attendees alone. Most updates change none of them, and making both
    versions' rows to compare them was about 6% of an update's instructions."""
    return (
        meeting.scheduled_start == before.scheduled_start
        and meeting.organizer_email == before.organizer_email
        and meeting.attendees == before.attendees
    )


_DELETE_MEETING = "DELETE FROM meetings WHERE id = :meeting_id AND workspace_id = :workspace_id"


def delete_meeting(connection: Connection, workspace_id: int, meeting_id: int) -> bool:
    """Delete for good; False when the workspace has no such meeting."""
    parameters = {"meeting_id": meeting_id, "workspace_id": workspace_id}
    if fetch_one(connection, _DELETE_MEETING + " RETURNING id", parameters) is None:
        return False
    execute(connection, _FORGET_PEOPLE, {"meeting_id": meeting_id})
    _count(connection, workspace_id, -1)
    return True


@dataclass(frozen=True, slots=True)
class MeetingFilter:
    """Which of a workspace's meetings a list shows: scheduledStart in [start_from, start_to),
    and with this organizer or attendee (lower-cased emails)."""

    start_from: datetime | None = None
    start_to: datetime | None = None
    organizer: str | None = None
    attendee: str | None = None


_KEPT_COUNT = "SELECT sum(meetings) FROM meeting_counts WHERE workspace_id = :workspace_id"


@dataclass(frozen=True, slots=True)
class ListedPage:
    """A page of meetings, each as the JSON a response shows it, and the (scheduledStart, id)
    of the last when more follow it."""

    meetings: list[msgspec.Raw]
    last: tuple[datetime, int] | None


def _filtered(
    connection: Connection, workspace_id: int, where: MeetingFilter, *, rows: bool, also: str = ""
) -> tuple[str, dict[str, Any], str, str]:
    """The SQL for the meetings (`rows`: their start, id and stored JSON, then the column
    `also`) or their count that `where` selects, its parameters, and the start and id columns
    to order and page by: those of the index the query walks, so a page is one range scan. An
    email filter walks meeting_people; a count then never reads the meetings themselves. Only
    fixed text goes into the SQL; values are parameters."""
    parameters: dict[str, Any] = {"workspace_id": workspace_id}
    people = [(r, e) for r, e in ((ATTENDEE, where.attendee), (ORGANIZER, where.organizer)) if e]
    if not people:
        start, meeting_id = "meetings.scheduled_start", "meetings.id"
        sql = "FROM meetings"
        conditions = ["meetings.workspace_id = :workspace_id"]
    else:
        start, meeting_id = "lead.scheduled_start", "lead.meeting_id"
        sql = "FROM meeting_people AS lead"
        if rows:
            sql += " JOIN meetings ON meetings.id = lead.meeting_id"
        conditions = ["lead.workspace_id = :workspace_id"]
        for index, (role, email) in enumerate(people):
            person = "lead" if index == 0 else "other"
            if index:
                sql += " JOIN meeting_people AS other ON other.meeting_id = lead.meeting_id"
            conditions += [f"{person}.role = :{person}_role", f"{person}.email = :{person}_email"]
            parameters |= {f"{person}_role": role, f"{person}_email": email}
    selected = f"{start}, {meeting_id}, {_SHOWN}" if rows else "count(*)"
    if also:
        selected += f", {also}"
    if where.start_from is not None:
        conditions.append(f"{start} >= :start_from")
        parameters["start_from"] = instant(connection, where.start_from)
    if where.start_to is not None:
        conditions.append(f"{start} < :start_to")
        parameters["start_to"] = instant(connection, where.start_to)
    sql = f"SELECT {selected} {sql} WHERE {' AND '.join(conditions)}"
    return sql, parameters, start, meeting_id


def list_meetings(
    connection: Connection,
    workspace_id: int,
    where: MeetingFilter,
    after: tuple[datetime, int] | None,
    page_size: int,
) -> ListedPage:
    """Up to `page_size` meetings ordered by (scheduledStart, id), after the `after`
    position."""
    rows = _page_rows(connection, workspace_id, where, after, page_size + 1)
    return _listed(connection, workspace_id, rows, page_size)


def _page_rows(
    connection: Connection,
    workspace_id: int,
    where: MeetingFilter,
    after: tuple[datetime, int] | None,
    limit: int,
    also: str = "",
) -> list[Sequence[Any]]:
    sql, parameters, start, meeting_id = _filtered(
        connection, workspace_id, where, rows=True, also=also
    )
    if after is not None:
        sql += f" AND ({start}, {meeting_id}) > (:after_start, :after_id)"
        parameters |= {"after_start": instant(connection, after[0]), "after_id": after[1]}
    sql += f" ORDER BY {start}, {meeting_id} LIMIT :limit"
    parameters["limit"] = limit
    return fetch_all(connection, sql, parameters)


def _listed(
    connection: Connection, workspace_id: int, rows: list[Sequence[Any]], page_size: int
) -> ListedPage:
    """The page of `rows` (start, id, stored JSON or None), one more than `page_size` when
    more follow. A meeting without its JSON is made from its columns, read again by id; one
    deleted since the rows were read is left out."""
    page = rows[:page_size]
    shown = [row[2] for row in page]
    if None in shown:
        made = _shown_by_id(connection, workspace_id, [row[1] for row in page if row[2] is None])
        shown = [
            made.get(row[1]) if json is None else json
            for row, json in zip(page, shown, strict=True)
        ]
    last = (from_db(page[-1][0]), int(page[-1][1])) if len(rows) > page_size else None
    return ListedPage([msgspec.Raw(json) for json in shown if json is not None], last)


def _shown_by_id(connection: Connection, workspace_id: int, ids: list[int]) -> dict[int, str]:
    """The JSON of these meetings, made from their columns."""
    names = [f"id{index}" for index in range(len(ids))]
    sql = (  # fixed text, and one numbered parameter per id
        f"SELECT {', '.join(MEETING_COLUMNS)} FROM meetings"  # noqa: S608
        f" WHERE workspace_id = :workspace_id AND id IN ({', '.join(':' + n for n in names)})"
    )
    rows = fetch_all(
        connection, sql, {"workspace_id": workspace_id, **dict(zip(names, ids, strict=True))}
    )
    return {row[0]: _shown(row) for row in rows}


_KEPT_TOTAL = f"({_KEPT_COUNT})"  # the same sum, as a column of the first page


def first_page(connection: Connection, workspace_id: int, page_size: int) -> tuple[int, ListedPage]:
    """The workspace's kept count of meetings and its first `page_size` meetings, by one
    statement: one snapshot with no transaction around it (BEGIN, COMMIT and a second
    statement were 2% of a list page's instructions, more of its time: py-spy put them at a
    tenth). Meetings an older version stored without their JSON take a second (_listed)."""
    rows = _page_rows(connection, workspace_id, MeetingFilter(), None, page_size + 1, _KEPT_TOTAL)
    # The count follows the page's three columns. No meeting in the snapshot: none is counted.
    total = int(rows[0][3] or 0) if rows else 0
    return total, _listed(connection, workspace_id, rows, page_size)


def count_meetings(connection: Connection, workspace_id: int, where: MeetingFilter) -> int:
    """How many meetings the filter matches; unfiltered, the kept count (no scan at all)."""
    if where == MeetingFilter():
        found = fetch_one(connection, _KEPT_COUNT, {"workspace_id": workspace_id})
        return int(found[0] or 0) if found else 0  # no rows: a sum of NULL
    sql, parameters, _, _ = _filtered(connection, workspace_id, where, rows=False)
    found = fetch_one(connection, sql, parameters)
    return int(found[0]) if found else 0
