"""JSON responses and the contract's error envelope."""

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from gong_meetings.ids import new_request_id
from gong_meetings.server.middleware import REQUEST_ID_KEY
from gong_meetings.wire import ErrorResponse, encode

JSON = "application/json"


def request_id(request: Request) -> str:
    """The id the request-id middleware gave this request."""
    found = request.scope.get(REQUEST_ID_KEY)
    return found if isinstance(found, str) else new_request_id()


def json_response(
    value: object, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(encode(value), status_code, headers=headers, media_type=JSON)


def error_response(
    request: Request,
    status_code: int,
    messages: list[str],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """`{"requestId": ..., "errors": [...]}`, the one shape of every 4xx and 5xx."""
    return json_response(ErrorResponse(request_id(request), messages), status_code, headers)
