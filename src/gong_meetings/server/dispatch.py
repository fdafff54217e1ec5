"""The API's own routes, dispatched without Starlette's router and middleware.

Every call to /v2/meetings passed through Starlette's router (a regular expression per route,
tried in turn) and four layers of its middleware and exception handling: about a third of a
get's time on the event loop (bench/README.md). Here the six hot (method, path) pairs are
found with a dictionary and a prefix, and their handlers run directly, with the same error
handlers Starlette would call; the request-id middleware sends what they return. Anything
else (other methods, other paths, HEAD, a root path) goes on to Starlette unchanged, so its
404s and 405s, with `Allow`, stay as they were.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope

from gong_meetings.errors import ApiError
from gong_meetings.server.errors import api_error, server_error

Handler = Callable[[Request], Awaitable[Response]]
MEETINGS = "/v2/meetings"
INTEGRATION_STATUS = "/v2/meetings/integration-status"
MEETING = "/v2/meetings/{meetingId}"
_MEETING_PREFIX = MEETINGS + "/"


@dataclass(frozen=True, slots=True)
class RouteName:
    """What the access log and the metrics read from `scope["route"]`, as from Starlette's."""

    path_format: str


class ApiDispatcher:
    def __init__(
        self,
        fixed: dict[tuple[str, str], Handler],
        by_meeting_id: dict[str, Handler],
    ) -> None:
        """`fixed` maps (method, path) to a handler; `by_meeting_id`, a method on
        /v2/meetings/{meetingId}."""
        self._fixed = {key: (handler, RouteName(key[1])) for key, handler in fixed.items()}
        self._by_meeting_id = by_meeting_id
        self._meeting_route = RouteName(MEETING)

    async def answer(self, scope: Scope, receive: Receive) -> Response | None:
        """The handler's response, or its error's; None when the request is not for one of
        the routes here. The request-id middleware sends it (see there)."""
        found = self._match(scope)
        if found is None:
            return None
        handler, route = found
        scope["route"] = route
        request = Request(scope, receive)
        try:
            return await handler(request)
        except ApiError as error:
            return await api_error(request, error)
        except Exception as error:  # logged with its stack there; the client gets the envelope
            return await server_error(request, error)

    def _match(self, scope: Scope) -> tuple[Handler, RouteName] | None:
        if scope.get("root_path"):
            return None  # Starlette knows how to strip it
        method, path = scope["method"], scope["path"]
        found = self._fixed.get((method, path))
        if found is not None:
            return found
        if not path.startswith(_MEETING_PREFIX):
            return None
        meeting_id = path[len(_MEETING_PREFIX) :]
        handler = self._by_meeting_id.get(method)
        # As the route's convertor: one segment, and not the integration-status path.
        if handler is None or not meeting_id or "/" in meeting_id:
            return None
        if meeting_id == "integration-status":
            return None
        scope["path_params"] = {"meetingId": meeting_id}
        return handler, self._meeting_route
