"""Pure ASGI middleware (Starlette's BaseHTTPMiddleware costs too much per request)."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import msgspec
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gong_meetings import logs, metrics
from gong_meetings.ids import new_request_id
from gong_meetings.wire import ErrorResponse, encode

access_log = logging.getLogger("gong_meetings.access")
REQUEST_ID_KEY = "gong_meetings.request_id"
# Headers a handler wants on whatever response goes out, errors included: a list of
# (name, value) as ASGI writes them, lowercase bytes.
RESPONSE_HEADERS_KEY = "gong_meetings.response_headers"
# The authenticated caller's workspace name, for the access log.
WORKSPACE_KEY = "gong_meetings.workspace"
# (status, message) when the connection layer refuses a request before the app sees it.
REFUSAL_KEY = "gong_meetings.refusal"
# True once the connection layer holds the request's whole body (see server/body.py).
BODY_RECEIVED_KEY = "gong_meetings.body_received"


class AccessLine(msgspec.Struct, rename="camel"):
    """A request's JSON access-log line, its keys in the order JsonLineFormatter writes a
    record's (logs.write_info)."""

    level: str
    logger: str
    message: str
    request_id: str
    workspace: str | None
    method: str
    route: str
    path: str
    status: int
    duration_ms: float
    time: datetime

    def extra(self) -> dict[str, object]:
        """The record's fields, for logging to write when logs.write_info cannot."""
        return {
            "requestId": self.request_id,
            "workspace": self.workspace,
            "method": self.method,
            "route": self.route,
            "path": self.path,
            "status": self.status,
            "durationMs": self.duration_ms,
        }


def record_request(
    *,
    request_id: str,
    method: str,
    path: str,
    route: str,
    status: int,
    seconds: float,
    workspace: str | None = None,
) -> None:
    """Count the request in the metrics and write its access-log line: never headers, never
    bodies, so no credentials or meeting data reach the logs."""
    metrics.observe_request(method, route, status, seconds)
    if not access_log.isEnabledFor(logging.INFO):
        return
    # To a hundredth of a millisecond: round(seconds * 1000, 2) cost as much as the message.
    duration_ms = round(seconds * 100_000) / 100
    message = (
        f"{method} {path} {status} {duration_ms:.1f}ms"
        f" request_id={request_id} workspace={workspace or '-'}"
    )
    line = AccessLine(
        "INFO",
        access_log.name,
        message,
        request_id,
        workspace,
        method,
        route,
        path,
        status,
        duration_ms,
        datetime.now(UTC),
    )
    # Straight to the handler when `serve` configured it: a LogRecord costs more than the rest.
    if not logs.write_info(access_log, line):
        access_log.info(message, extra=line.extra())


def error_body(request_id: str, message: str) -> bytes:
    return encode(ErrorResponse(request_id, [message]))


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else metrics.UNMATCHED_ROUTE


# Answers a request of the API's own routes as a whole Response, or None for any other request.
Answer = Callable[[Scope, Receive], Awaitable[Response | None]]


class RequestIdMiddleware:
    """Gives every response an `X-Request-Id`, 500s included, and records every request in
    the metrics and the access log.

    `answer` (server/dispatch.py) answers the API's own routes: their Response is sent here
    directly, with the id and the handler's headers added to its own in one list, which skips
    Starlette's Response.__call__ and a wrapped `send` (a microsecond of a get's 45). Every
    other request goes to `app` with that wrapped `send`.
    """

    def __init__(self, app: ASGIApp, answer: Answer) -> None:
        self.app = app
        self._answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        # A key of our own: scope["state"] can be one dict shared by every request.
        scope[REQUEST_ID_KEY] = request_id
        header = (b"x-request-id", request_id.encode("ascii"))
        status = 0
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = scope.get(RESPONSE_HEADERS_KEY, ())
                message["headers"] = [*message.get("headers", ()), header, *extra]
            await send(message)

        try:
            refusal = scope.get(REFUSAL_KEY)
            if refusal is not None:
                await _refuse(refusal, request_id, send_with_id)
                return
            response = await self._answer(scope, receive)
            if response is None:
                await self.app(scope, receive, send_with_id)
                return
            headers = response.raw_headers
            headers.append(header)
            extra = scope.get(RESPONSE_HEADERS_KEY)
            if extra:
                headers += extra
            status = response.status_code
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": response.body})
        except asyncio.CancelledError:
            # The shutdown grace period ran out: answer in the contract's shape, not uvicorn's.
            if not status:
                body = error_body(request_id, "server shutting down; retry the request")
                await send_with_id(_error_start(503, body))
                await send_with_id({"type": "http.response.body", "body": body})
            raise
        except Exception:
            if not status:
                raise
            # Starlette re-raises after it has sent the 500; it is logged with the request id.
        finally:
            record_request(
                request_id=request_id,
                method=scope["method"],
                path=scope["path"],
                route=_route_template(scope),
                status=status or 500,
                seconds=time.perf_counter() - started,
                workspace=scope.get(WORKSPACE_KEY),
            )


def _error_start(status: int, body: bytes) -> Message:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"connection", b"close"),
    ]
    return {"type": "http.response.start", "status": status, "headers": headers}


async def _refuse(refusal: tuple[int, str], request_id: str, send: Send) -> None:
    status, message = refusal
    body = error_body(request_id, message)
    await send(_error_start(status, body))
    await send({"type": "http.response.body", "body": body})
