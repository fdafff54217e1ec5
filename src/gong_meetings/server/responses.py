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


class JsonResponse(Response):
    """A Starlette Response of JSON bytes, its header list made in one step: Response's own
    making (the body's type checked, the headers searched for a length and a type) was a
    twentieth of a get's time on the event loop. The same headers, in the same order."""

    media_type = JSON

    def __init__(
        self,
        body: bytes,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
    ) -> None:
        """`etag`: the ETag header's value, passed apart as every meeting's answer has one:
        made from a Mapping, each header cost as much as the rest of this."""
        self.status_code = status_code
        self.background = None
        self.body = body
        raw = [(b"content-length", b"%d" % len(body)), (b"content-type", _JSON_BYTES)]
        if etag is not None:
            raw.insert(0, (b"etag", etag.encode("latin-1")))
        if headers:
            given = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            raw = given + raw
        self.raw_headers = raw


_JSON_BYTES = JSON.encode("ascii")


def json_response(
    value: object,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    etag: str | None = None,
) -> Response:
    return JsonResponse(encode(value), status_code, headers, etag)


def error_response(
    request: Request,
    status_code: int,
    messages: list[str],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """`{"requestId": ..., "errors": [...]}`, the one shape of every 4xx and 5xx."""
    return json_response(ErrorResponse(request_id(request), messages), status_code, headers)
