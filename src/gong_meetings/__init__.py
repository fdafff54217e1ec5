"""gong-meetings: a self-hostable, stateful implementation of the Gong Meetings API v2, and its
Python SDK (`Client`, `AsyncClient`) built on the same wire types as the server."""

from gong_meetings.client.asynchronous import AsyncClient
from gong_meetings.client.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequest,
    Conflict,
    Forbidden,
    GongMeetingsError,
    NotFound,
    PreconditionFailed,
    RateLimited,
    ServerError,
    Unauthorized,
)
from gong_meetings.client.sync import Client
from gong_meetings.wire import IntegrationStatusResponse, Meeting, MeetingAttendee

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "Forbidden",
    "GongMeetingsError",
    "IntegrationStatusResponse",
    "Meeting",
    "MeetingAttendee",
    "NotFound",
    "PreconditionFailed",
    "RateLimited",
    "ServerError",
    "Unauthorized",
    "__version__",
]

__version__ = "0.1.0"
