"""Meeting rules: what a valid meeting is, who may organise it, and partial updates."""

from datetime import UTC

from msgspec import UNSET
from msgspec.structs import replace
from sqlalchemy import Connection

from gong_meetings.errors import BadRequest, NotFound
from gong_meetings.ids import new_meeting_id
from gong_meetings.records import Caller
from gong_meetings.service.providers import canonical_provider, unknown_provider_message
from gong_meetings.service.syntax import email_problem, normalize_email, url_problem
from gong_meetings.storage import accounts as account_store
from gong_meetings.storage import meetings as meeting_store
from gong_meetings.storage.database import Database
from gong_meetings.wire import Attendee, CreateMeetingRequest, Meeting, UpdateMeetingRequest


def _attendee_problems(attendees: list[Attendee]) -> list[str]:
    problems = []
    for index, attendee in enumerate(attendees):
        if attendee.email_address is not UNSET:
            problem = email_problem(attendee.email_address)
            if problem:
                problems.append(f"attendees[{index}].emailAddress: {problem}")
    return problems


def _field_problems(request: CreateMeetingRequest | UpdateMeetingRequest) -> list[str]:
    """Problems in the fields a create or an update carries, each named by its path."""
    problems = []
    if isinstance(request, CreateMeetingRequest):
        problem = email_problem(request.organizer_email)
        if problem:
            problems.append(f"organizerEmail: {problem}")
        if request.meeting_provider is not UNSET and not canonical_provider(
            request.meeting_provider
        ):
            problems.append(unknown_provider_message("meetingProvider", request.meeting_provider))
    if request.meeting_url is not UNSET:
        problem = url_problem(request.meeting_url)
        if problem:
            problems.append(f"meetingUrl: {problem}")
    if request.attendees is not UNSET:
        problems.extend(_attendee_problems(request.attendees))
    return problems


def _schedule_problems(meeting: Meeting) -> list[str]:
    if meeting.scheduled_end <= meeting.scheduled_start:
        return ["scheduledEnd: must be after scheduledStart"]
    return []


def _optional(value: str | object) -> str | None:
    return value if isinstance(value, str) else None


class MeetingService:
    def __init__(self, database: Database, public_base_url: str) -> None:
        self._database = database
        self._public_base_url = public_base_url

    def _new_meeting(self, request: CreateMeetingRequest) -> Meeting:
        meeting_id = str(new_meeting_id())
        provider = _optional(request.meeting_provider)
        return Meeting(
            id=meeting_id,
            title=request.title,
            scheduled_start=request.scheduled_start.astimezone(UTC),
            scheduled_end=request.scheduled_end.astimezone(UTC),
            organizer_email=request.organizer_email,
            meeting_url=_optional(request.meeting_url)
            or f"{self._public_base_url}/join/{meeting_id}",
            attendees=[] if request.attendees is UNSET else request.attendees,
            description=_optional(request.description),
            meeting_provider=None if provider is None else canonical_provider(provider),
            external_meeting_id=_optional(request.external_meeting_id),
        )

    async def create(self, caller: Caller, request: CreateMeetingRequest) -> Meeting:
        """Validate, check the organizer, and store a new meeting."""
        meeting = self._new_meeting(request)
        problems = _field_problems(request) + _schedule_problems(meeting)
        if problems:
            raise BadRequest(*problems)
        organizer = normalize_email(request.organizer_email)

        def store(connection: Connection) -> Meeting:
            if account_store.find_user(connection, caller.workspace_id, organizer) is None:
                workspace = account_store.get_workspace(connection, caller.workspace_id)
                if not workspace.auto_provision_users:
                    raise BadRequest(
                        f"organizerEmail: {request.organizer_email} is not a user of this"
                        " workspace; add it with `gong-meetings users add"
                        f" {organizer} --workspace {workspace.name}`"
                    )
                account_store.add_user(connection, caller.workspace_id, organizer, None)
            meeting_store.insert_meeting(connection, caller.workspace_id, meeting)
            return meeting

        return await self._database.run(store)

    async def update(
        self, caller: Caller, meeting_id: int | None, request: UpdateMeetingRequest
    ) -> Meeting:
        """Apply the fields present; the result must still be a valid meeting."""
        problems = _field_problems(request)
        if problems:
            raise BadRequest(*problems)
        changes = {
            name: getattr(request, name)
            for name in request.__struct_fields__
            if getattr(request, name) is not UNSET
        }
        for name in ("scheduled_start", "scheduled_end"):
            if name in changes:
                changes[name] = changes[name].astimezone(UTC)
        if meeting_id is None:
            raise _not_found()

        def store(connection: Connection) -> Meeting:
            current = meeting_store.get_meeting(connection, caller.workspace_id, meeting_id)
            if current is None:
                raise _not_found()
            if not changes:
                return current
            updated = replace(current, **changes)
            problems = _schedule_problems(updated)
            if problems:
                raise BadRequest(*problems)
            meeting_store.replace_meeting(connection, caller.workspace_id, updated)
            return updated

        return await self._database.run(store)

    async def delete(self, caller: Caller, meeting_id: int | None) -> None:
        """Delete for good."""
        if meeting_id is None:
            raise _not_found()

        def store(connection: Connection) -> bool:
            return meeting_store.delete_meeting(connection, caller.workspace_id, meeting_id)

        if not await self._database.run(store):
            raise _not_found()


def _not_found() -> NotFound:
    # The same answer for a missing id and another workspace's: existence must not show.
    return NotFound("meetingId: no meeting with this id exists in your workspace")
