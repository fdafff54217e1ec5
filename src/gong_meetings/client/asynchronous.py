"""The asynchronous client: the same as `Client`, awaited; a thin shell over `core`."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from types import TracebackType
from typing import TypeVar

import httpx

from gong_meetings.client import core
from gong_meetings.client.core import Call, RetryPolicy
from gong_meetings.wire import (
    BaseResponse,
    GetMeetingResponse,
    IntegrationStatusResponse,
    ListMeetingsResponse,
    Meeting,
    MeetingAttendee,
    MeetingResponse,
)

T = TypeVar("T")


class AsyncClient:
    """The Gong Meetings API from asyncio. Use it with `async with`, or await `aclose()`."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        access_key: str | None = None,
        access_key_secret: str | None = None,
        bearer_token: str | None = None,
        timeout: httpx.Timeout | float = core.DEFAULT_TIMEOUT,
        max_retries: int = core.DEFAULT_MAX_RETRIES,
        retry_after_cap: float = core.DEFAULT_RETRY_AFTER_CAP,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        found = core.settings(base_url, access_key, access_key_secret, bearer_token)
        self.retry = RetryPolicy(max_retries=max_retries, retry_after_cap=retry_after_cap)
        self._http = httpx.AsyncClient(
            base_url=found.base_url,
            auth=found.auth,
            headers=dict(found.headers),
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call, shape: type[T]) -> T:
        retries = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = await self._http.send(core.request(self._http, call))
                if response.status_code < 400:
                    return core.read(response, shape)
                failure = core.api_error(response)
            except httpx.TransportError as error:
                failure = core.transport_error(error)
            delay = self.retry.delay_after(retries, response)
            if delay is None:
                raise failure
            await asyncio.sleep(delay)
            retries += 1

    async def create_meeting(
        self,
        *,
        title: str,
        scheduled_start: datetime,
        scheduled_end: datetime,
        organizer_email: str,
        meeting_url: str | None = None,
        attendees: list[MeetingAttendee] | None = None,
        description: str | None = None,
        meeting_provider: str | None = None,
        external_meeting_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Meeting:
        """Create a meeting. Retries reuse one Idempotency-Key, so they never duplicate it."""
        call = core.create_call(
            title=title,
            scheduled_start=scheduled_start,
            scheduled_end=scheduled_end,
            organizer_email=organizer_email,
            meeting_url=meeting_url,
            attendees=attendees,
            description=description,
            meeting_provider=meeting_provider,
            external_meeting_id=external_meeting_id,
            idempotency_key=idempotency_key,
        )
        return (await self._send(call, MeetingResponse)).meeting

    async def update_meeting(
        self,
        meeting_id: str,
        *,
        title: str | None = None,
        scheduled_start: datetime | None = None,
        scheduled_end: datetime | None = None,
        meeting_url: str | None = None,
        attendees: list[MeetingAttendee] | None = None,
        description: str | None = None,
        if_match: str | None = None,
    ) -> Meeting:
        """Change the fields given; the others stay."""
        call = core.update_call(
            meeting_id,
            title=title,
            scheduled_start=scheduled_start,
            scheduled_end=scheduled_end,
            meeting_url=meeting_url,
            attendees=attendees,
            description=description,
            if_match=if_match,
        )
        return (await self._send(call, MeetingResponse)).meeting

    async def delete_meeting(self, meeting_id: str, *, if_match: str | None = None) -> None:
        headers = {} if if_match is None else {"If-Match": if_match}
        await self._send(
            Call("DELETE", f"/v2/meetings/{meeting_id}", headers=headers), BaseResponse
        )

    async def get_meeting(self, meeting_id: str) -> Meeting:
        return (await self._send(core.get_call(meeting_id), GetMeetingResponse)).meeting

    async def list_meetings(
        self,
        *,
        from_date_time: datetime | None = None,
        to_date_time: datetime | None = None,
        organizer_email: str | None = None,
        attendee_email: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Meeting]:
        """Every meeting that matches, page after page, following the cursors."""
        params = core.list_params(
            from_date_time, to_date_time, organizer_email, attendee_email, page_size
        )
        cursor = None
        while True:
            page = await self._send(core.list_call(params, cursor), ListMeetingsResponse)
            for meeting in page.meetings:
                yield meeting
            if not isinstance(page.records.cursor, str):
                return
            cursor = page.records.cursor

    async def validate_integration_status(
        self, *, user_email: str | None = None, meeting_provider: str | None = None
    ) -> IntegrationStatusResponse:
        call = core.status_call(user_email, meeting_provider)
        return await self._send(call, IntegrationStatusResponse)
