"""Meeting rules: what a valid meeting is, who may organise it, and partial updates."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
from msgspec import UNSET
from msgspec.structs import replace
from sqlalchemy import Connection

from gong_meetings.errors import (
    BadRequest,
    ConflictingRequest,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
)
from gong_meetings.ids import new_meeting_id
from gong_meetings.providers import canonical_provider
from gong_meetings.records import Caller, ShownStoredMeeting, StoredMeeting
from gong_meetings.service.cursors import CursorCodec, Position
from gong_meetings.service.syntax import normalize_email
from gong_meetings.storage import accounts as account_store
from gong_meetings.storage import idempotency as key_store
from gong_meetings.storage import meetings as meeting_store
from gong_meetings.storage.database import Database
from gong_meetings.storage.meetings import ListedPage, MeetingFilter, NewMeeting
from gong_meetings.storage.timestamps import now
from gong_meetings.wire import CreateMeetingRequest, Meeting, UpdateMeetingRequest

FIRST_VERSION = 1
ID_ATTEMPTS = 5
CLAIM_ATTEMPTS = 3
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 100
# How long a create's Idempotency-Key is remembered, as Stripe's.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)
_meeting_decoder = msgspec.json.Decoder(Meeting)
# The entity tags an If-Match header names; `*` is no precondition at all (None).
Versions = frozenset[str]


def etag(version: int) -> str:
    """The strong entity tag of a meeting at `version`."""
    return f'"{version}"'


# Wire types have already checked every field's type, length and syntax; what is left here is
# what needs more than one field, or the database.


def parse_instant(text: str) -> datetime | None:
    """The UTC instant a pattern-checked RFC 3339 text names; None for a day that does not exist."""
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def _instants(
    start: str | object, end: str | object, problems: list[str]
) -> tuple[datetime | None, datetime | None]:
    """Parse the date-times present into UTC instants; a date that does not exist is a problem."""
    parsed = []
    for field, text in (("scheduledStart", start), ("scheduledEnd", end)):
        value = None
        if isinstance(text, str):
            value = parse_instant(text)
            if value is None:
                problems.append(f"{field}: not a real date and time (no such day)")
        parsed.append(value)
    return parsed[0], parsed[1]


def _check_schedule(meeting: Meeting) -> None:
    if meeting.scheduled_end <= meeting.scheduled_start:
        raise BadRequest("scheduledEnd: must be after scheduledStart")


def _optional(value: str | object) -> str | None:
    return value if isinstance(value, str) else None


def _not_found() -> NotFound:
    # The same answer for a missing id and another workspace's: existence must not show.
    return NotFound("meetingId: no meeting with this id exists in your workspace")


@dataclass(frozen=True, slots=True)
class Created:
    """A create's answer; `replayed` when it repeats the answer to an earlier identical
    request with the same Idempotency-Key."""

    stored: StoredMeeting
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    meetings: list[msgspec.Raw]  # each as the JSON a response shows it
    total: int
    number: int
    cursor: str | None


def _request_digest(request: CreateMeetingRequest) -> bytes:
    """The request as canonical JSON, hashed: the same fields and values, the same digest."""
    return hashlib.sha256(msgspec.json.encode(request)).digest()


def _idempotency_conflict() -> ConflictingRequest:
    return ConflictingRequest(
        "Idempotency-Key: this key was used in the last 24 hours for a different request;"
        " send a new key for a new request"
    )


class MeetingService:
    def __init__(self, database: Database, public_base_url: str, cursors: CursorCodec) -> None:
        self._database = database
        self._public_base_url = public_base_url
        self._cursors = cursors

    def _new_meeting(self, request: CreateMeetingRequest) -> Meeting:
        problems: list[str] = []
        start, end = _instants(request.scheduled_start, request.scheduled_end, problems)
        if start is None or end is None:
            raise BadRequest(*problems)
        meeting_id = str(new_meeting_id())
        provider = _optional(request.meeting_provider)
        meeting = Meeting(
            id=meeting_id,
            title=request.title,
            scheduled_start=start,
            scheduled_end=end,
            organizer_email=request.organizer_email,
            meeting_url=_optional(request.meeting_url)
            or f"{self._public_base_url}/join/{meeting_id}",
            attendees=[] if request.attendees is UNSET else request.attendees,
            description=_optional(request.description),
            meeting_provider=None if provider is None else canonical_provider(provider),
            external_meeting_id=_optional(request.external_meeting_id),
        )
        _check_schedule(meeting)
        return meeting

    async def create(
        self, caller: Caller, request: CreateMeetingRequest, idempotency_key: str | None = None
    ) -> Created:
        """Validate, check the organizer, and store a new meeting. With an idempotency key,
        a repeat of the same request answers as the first did and creates nothing."""
        meeting = self._new_meeting(request)
        if idempotency_key is None:
            # Most creates: an organizer the workspace has, and a free id. Stored with the
            # other creates of this moment (Database.run_batched); the rest take the path below.
            organizer = normalize_email(request.organizer_email)
            new = NewMeeting(caller.workspace_id, meeting, organizer)
            stored = await self._database.run_batched(meeting_store.insert_meetings, new)
            if stored:
                return Created(StoredMeeting(meeting, FIRST_VERSION))
            if stored is False:  # another process took its id in the same millisecond
                meeting = self._new_meeting(request)
            # None: an organizer the workspace does not have, to be registered or refused.
        digest = b"" if idempotency_key is None else _request_digest(request)

        def store(connection: Connection) -> Created:
            if idempotency_key is not None:
                earlier = _claim(connection, caller.workspace_id, idempotency_key, digest)
                if earlier is not None:
                    return Created(earlier, replayed=True)
            stored = self._insert(connection, caller, request, meeting)
            if idempotency_key is not None:
                key_store.record_answer(
                    connection,
                    caller.workspace_id,
                    idempotency_key,
                    msgspec.json.encode(stored.meeting).decode("utf-8"),
                )
            return Created(stored)

        return await self._database.run(store)

    def _insert(
        self,
        connection: Connection,
        caller: Caller,
        request: CreateMeetingRequest,
        meeting: Meeting,
    ) -> StoredMeeting:
        """Store `meeting`, registering or refusing an unknown organizer first."""
        organizer = normalize_email(request.organizer_email)
        stored = meeting
        # Another process may take the same id in the same millisecond (1 in 2 million).
        for _ in range(ID_ATTEMPTS):
            inserted = meeting_store.insert_meeting(
                connection, caller.workspace_id, stored, organizer
            )
            if inserted is None:  # an organizer the workspace does not know: nothing stored
                self._register_organizer(connection, caller, request.organizer_email, organizer)
                inserted = meeting_store.insert_meeting(connection, caller.workspace_id, stored)
            if inserted:
                return StoredMeeting(stored, FIRST_VERSION)
            stored = self._new_meeting(request)
        raise RuntimeError(f"no free meeting id after {ID_ATTEMPTS} attempts")

    @staticmethod
    def _register_organizer(connection: Connection, caller: Caller, given: str, email: str) -> None:
        """Add the organizer `email` as a user, or refuse it where the workspace does not
        provision users."""
        workspace = account_store.get_workspace(connection, caller.workspace_id)
        if not workspace.auto_provision_users:
            raise BadRequest(
                f"organizerEmail: {given} is not a user of this workspace; add it with"
                f" `gong-meetings users add {email} --workspace {workspace.name}`"
            )
        account_store.ensure_user(connection, caller.workspace_id, email)

    async def get(self, caller: Caller, meeting_id: int | None) -> ShownStoredMeeting:
        if meeting_id is None:
            raise _not_found()
        found = await self._database.read(
            lambda c: meeting_store.show_meeting(c, caller.workspace_id, meeting_id),
            one_statement=True,
        )
        if found is None:
            raise _not_found()
        return found

    async def list(
        self,
        caller: Caller,
        where: MeetingFilter,
        page_size: int,
        cursor: str | None,
        problems: Sequence[str] = (),
    ) -> Page:
        """One page of the workspace's meetings in (scheduledStart, id) order. A cursor
        continues its own list: its filters hold, and filters given with it must be the same.
        `problems` are those the parameters' syntax already showed; one 400 names them all."""
        found_problems = list(problems)
        if where.start_from and where.start_to and where.start_to <= where.start_from:
            found_problems.append("toDateTime: must be after fromDateTime")
        position = None
        if cursor is not None:
            try:
                position = self._cursors.decode(cursor, caller.workspace_id)
            except BadRequest as refused:
                found_problems += refused.messages
        if found_problems:
            raise BadRequest(*found_problems)
        if position is not None:
            if where not in (MeetingFilter(), position.filter):
                raise BadRequest(
                    "cursor: it continues a list with other filters; send the first"
                    " page's filters with it, or none"
                )
            where = position.filter

        # A page is a range scan of at most PAGE_SIZE_MAX + 1 rows (one more than the page
        # tells whether another follows), and an unfiltered total is kept and read by the same
        # statement, so most lists are one short read; only a filtered first page counts its
        # matches, which may be many: that is a scan, off the event loop, in a transaction.
        workspace_id = caller.workspace_id
        if position is not None:
            after = (position.after_start, position.after_id)
            total = position.total
            found = await self._database.read(
                lambda c: meeting_store.list_meetings(c, workspace_id, where, after, page_size),
                one_statement=True,
            )
        elif where == MeetingFilter():
            total, found = await self._database.read(
                lambda c: meeting_store.first_page(c, workspace_id, page_size),
                one_statement=True,
            )
        else:

            def count_and_list(connection: Connection) -> tuple[int, ListedPage]:
                total = meeting_store.count_meetings(connection, workspace_id, where)
                listed = meeting_store.list_meetings(
                    connection, workspace_id, where, None, page_size
                )
                return total, listed

            total, found = await self._database.scan(count_and_list)
        number = 0 if position is None else position.page
        next_cursor = None
        if found.last is not None:
            last_start, last_id = found.last
            next_cursor = self._cursors.encode(
                Position(caller.workspace_id, where, last_start, last_id, number + 1, total)
            )
        return Page(found.meetings, total, number, next_cursor)

    async def update(
        self,
        caller: Caller,
        meeting_id: int | None,
        request: UpdateMeetingRequest,
        if_match: Versions | None = None,
    ) -> StoredMeeting:
        """Apply the fields present, atomically; the result must still be a valid meeting."""
        problems: list[str] = []
        start, end = _instants(request.scheduled_start, request.scheduled_end, problems)
        if problems:
            raise BadRequest(*problems)
        changes = {
            name: getattr(request, name)
            for name in request.__struct_fields__
            if getattr(request, name) is not UNSET
        }
        changes.update({k: v for k, v in (("scheduled_start", start), ("scheduled_end", end)) if v})
        if meeting_id is None:
            raise _not_found()

        def store(connection: Connection) -> StoredMeeting:
            # The row stays locked until commit, so concurrent updates apply one after another.
            current = _locked(connection, caller, meeting_id, if_match)
            if not changes:
                return current
            updated = replace(current.meeting, **changes)
            _check_schedule(updated)
            version = meeting_store.replace_meeting(
                connection, caller.workspace_id, updated, current.version, current.meeting
            )
            return StoredMeeting(updated, version)

        return await self._database.run(store)

    async def delete(
        self, caller: Caller, meeting_id: int | None, if_match: Versions | None = None
    ) -> None:
        """Delete for good."""
        if meeting_id is None:
            raise _not_found()

        def store(connection: Connection) -> None:
            _locked(connection, caller, meeting_id, if_match)
            meeting_store.delete_meeting(connection, caller.workspace_id, meeting_id)

        await self._database.run(store)


def _claim(
    connection: Connection, workspace_id: int, key: str, digest: bytes
) -> StoredMeeting | None:
    """Take the idempotency key for this create, or the earlier answer it stands for."""
    key_store.purge_expired(connection)
    expires_at = now() + IDEMPOTENCY_KEY_LIFETIME
    for _ in range(CLAIM_ATTEMPTS):
        if key_store.claim_key(connection, workspace_id, key, digest, expires_at):
            return None
        earlier = key_store.find_key(connection, workspace_id, key)
        if earlier is None or earlier.expires_at <= now() or earlier.meeting is None:
            # Expired, or gone since: free it and try again. Another request may take it
            # first; the next round then finds that one's answer.
            key_store.forget_key(connection, workspace_id, key)
            continue
        if earlier.request_digest != digest:
            raise _idempotency_conflict()
        return StoredMeeting(_meeting_decoder.decode(earlier.meeting), FIRST_VERSION)
    raise ServiceUnavailable(
        "Idempotency-Key: other requests with this key are in progress; retry in a moment",
        headers={"Retry-After": "1"},
    )


def _locked(
    connection: Connection, caller: Caller, meeting_id: int, if_match: Versions | None
) -> StoredMeeting:
    """The meeting, locked for this transaction, if it exists and matches `if_match`."""
    current = meeting_store.get_meeting(
        connection, caller.workspace_id, meeting_id, for_update=True
    )
    if current is None:
        raise _not_found()
    if if_match is not None and etag(current.version) not in if_match:
        raise PreconditionFailed(
            "If-Match: the meeting has changed since that ETag;"
            f" its current ETag is {etag(current.version)}"
        )
    return current
