"""Handlers: each parses, calls one service and renders. No rules and no SQL here."""

from starlette.requests import Request
from starlette.responses import Response

from gong_meetings.ids import parse_meeting_id
from gong_meetings.records import StoredMeeting
from gong_meetings.server.auth import Gate
from gong_meetings.server.body import BodyLimits, read_json
from gong_meetings.server.preconditions import if_match
from gong_meetings.server.query import idempotency_key, list_query
from gong_meetings.server.responses import json_response, request_id
from gong_meetings.service.auth import require_scope
from gong_meetings.service.integrations import IntegrationService
from gong_meetings.service.meetings import MeetingService, etag
from gong_meetings.service.tokens import (
    SCOPE_CREATE,
    SCOPE_DELETE,
    SCOPE_READ,
    SCOPE_STATUS,
    SCOPE_UPDATE,
)
from gong_meetings.wire import (
    UNSET,
    BaseResponse,
    CreateMeetingRequest,
    IntegrationStatusRequest,
    IntegrationStatusResponse,
    MeetingResponse,
    Records,
    ShownMeetingAnswer,
    ShownMeetingPage,
    UpdateMeetingRequest,
)


def _meeting_response(request: Request, stored: StoredMeeting, status_code: int = 200) -> Response:
    meeting = stored.meeting
    return json_response(
        MeetingResponse(request_id(request), meeting.id, meeting),
        status_code,
        etag=etag(stored.version),
    )


class MeetingRoutes:
    def __init__(
        self,
        gate: Gate,
        meetings: MeetingService,
        integrations: IntegrationService,
        body_limits: BodyLimits,
    ) -> None:
        self._gate = gate
        self._meetings = meetings
        self._integrations = integrations
        self._body_limits = body_limits

    async def meetings(self, request: Request) -> Response:
        """GET or POST /v2/meetings."""
        if request.method == "POST":
            return await self.create_meeting(request)
        return await self.list_meetings(request)

    async def create_meeting(self, request: Request) -> Response:
        """POST /v2/meetings: create a meeting; safe to retry with an Idempotency-Key."""
        caller = await self._gate.admit(request)
        require_scope(caller, SCOPE_CREATE)
        key = idempotency_key(request)
        body = await read_json(request, CreateMeetingRequest, self._body_limits)
        created = await self._meetings.create(caller, body, key)
        response = _meeting_response(request, created.stored, 201)
        if created.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    async def list_meetings(self, request: Request) -> Response:
        """GET /v2/meetings: a page of the workspace's meetings (an addition)."""
        caller = await self._gate.admit(request)
        require_scope(caller, SCOPE_READ)
        where, page_size, cursor, problems = list_query(request)
        page = await self._meetings.list(caller, where, page_size, cursor, problems)
        records = Records(page.total, len(page.meetings), page.number)
        if page.cursor is not None:
            records.cursor = page.cursor
        return json_response(ShownMeetingPage(request_id(request), records, page.meetings))

    async def meeting(self, request: Request) -> Response:
        """GET, PUT or DELETE /v2/meetings/{meetingId}."""
        if request.method == "GET":
            return await self.get_meeting(request)
        if request.method == "PUT":
            return await self.update_meeting(request)
        return await self.delete_meeting(request)

    async def get_meeting(self, request: Request) -> Response:
        """GET /v2/meetings/{meetingId}: one meeting (an addition)."""
        caller = await self._gate.admit(request)
        require_scope(caller, SCOPE_READ)
        meeting_id = parse_meeting_id(request.path_params["meetingId"])
        stored = await self._meetings.get(caller, meeting_id)
        return json_response(
            ShownMeetingAnswer(request_id(request), stored.meeting),
            etag=etag(stored.version),
        )

    async def update_meeting(self, request: Request) -> Response:
        """PUT /v2/meetings/{meetingId}: change the fields present in the body."""
        caller = await self._gate.admit(request)
        require_scope(caller, SCOPE_UPDATE)
        body = await read_json(request, UpdateMeetingRequest, self._body_limits)
        meeting_id = parse_meeting_id(request.path_params["meetingId"])
        stored = await self._meetings.update(caller, meeting_id, body, if_match(request))
        return _meeting_response(request, stored)

    async def delete_meeting(self, request: Request) -> Response:
        """DELETE /v2/meetings/{meetingId}: delete a meeting for good."""
        caller = await self._gate.admit(request)
        require_scope(caller, SCOPE_DELETE)
        meeting_id = parse_meeting_id(request.path_params["meetingId"])
        await self._meetings.delete(caller, meeting_id, if_match(request))
        return json_response(BaseResponse(request_id(request)))

    async def integration_status(self, request: Request) -> Response:
        """POST /v2/meetings/integration-status: check a user's or provider's integration."""
        caller = await self._gate.admit(request)
        require_scope(caller, SCOPE_STATUS)
        body = await read_json(request, IntegrationStatusRequest, self._body_limits)
        answer = await self._integrations.status(caller, body)
        return json_response(
            IntegrationStatusResponse(
                request_id=request_id(request),
                is_integrated=answer.is_integrated,
                status=answer.status,  # type: ignore[arg-type]
                details=answer.details,
                provider=UNSET if answer.provider is None else answer.provider,
            )
        )
