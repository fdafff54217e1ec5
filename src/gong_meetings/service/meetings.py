"""Meeting rules: what a valid meeting is, who may organise it, and partial updates."""

from datetime import UTC, datetime

from msgspec import UNSET
from msgspec.structs import replace
from sqlalchemy import Connection

from gong_meetings.errors import BadRequest, NotFound, PreconditionFailed
from gong_meetings.ids import new_meeting_id
from gong_meetings.providers import canonical_provider
from gong_meetings.records import Caller, StoredMeeting
from gong_meetings.service.syntax import normalize_email
from gong_meetings.storage import accounts as account_store
from gong_meetings.storage import meetings as meeting_store
from gong_meetings.storage.database import Database
from gong_meetings.wire import CreateMeetingRequest, Meeting, UpdateMeetingRequest

FIRST_VERSION = 1
ID_ATTEMPTS = 5
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


class MeetingService:
    def __init__(self, database: Database, public_base_url: str) -> None:
        self._database = database
        self._public_base_url = public_base_url

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

    async def create(self, caller: Caller, request: CreateMeetingRequest) -> StoredMeeting:
        """Validate, check the organizer, and store a new meeting."""
        meeting = self._new_meeting(request)
        organizer = normalize_email(request.organizer_email)

        def store(connection: Connection) -> StoredMeeting:
            if account_store.find_user(connection, caller.workspace_id, organizer) is None:
                workspace = account_store.get_workspace(connection, caller.workspace_id)
                if not workspace.auto_provision_users:
                    raise BadRequest(
                        f"organizerEmail: {request.organizer_email} is not a user of this"
                        " workspace; add it with `gong-meetings users add"
                        f" {organizer} --workspace {workspace.name}`"
                    )
                account_store.ensure_user(connection, caller.workspace_id, organizer)
            stored = meeting
            # Another process may take the same id in the same millisecond (1 in 2 million).
            for _ in range(ID_ATTEMPTS):
                if meeting_store.insert_meeting(connection, caller.workspace_id, stored):
                    return StoredMeeting(stored, FIRST_VERSION)
                stored = self._new_meeting(request)
            raise RuntimeError(f"no free meeting id after {ID_ATTEMPTS} attempts")

        return await self._database.run(store)

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
                connection, caller.workspace_id, updated, current.version
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
