"""Every failure becomes the contract's error envelope: no stack traces, SQL or internals."""

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gong_meetings.errors import ApiError
from gong_meetings.server.responses import error_response, request_id

log = logging.getLogger("gong_meetings.server")


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc.status_code, exc.messages, exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Routing failures: unknown paths (404) and methods a path does not have (405)."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    method, path = request.method, request.url.path[:200]
    if exc.status_code == 404:
        message = f"no such endpoint: {method} {path}; see /openapi.json for the API"
    elif exc.status_code == 405:
        message = f"method {method} is not allowed on {path}; allowed: {headers.get('Allow', '')}"
    else:
        message = str(exc.detail)
    return error_response(request, exc.status_code, [message], headers)


async def server_error(request: Request, exc: Exception) -> Response:
    the_id = request_id(request)
    log.error("unhandled error request_id=%s", the_id, exc_info=exc, extra={"requestId": the_id})
    return error_response(
        request, 500, [f"internal server error; quote requestId {the_id} to report it"]
    )
