"""Pure ASGI middleware (Starlette's BaseHTTPMiddleware costs too much per request)."""

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gong_meetings.ids import new_request_id

access_log = logging.getLogger("gong_meetings.access")
REQUEST_ID_KEY = "gong_meetings.request_id"
# Headers a handler wants on whatever response goes out, errors included ({name: value}).
RESPONSE_HEADERS_KEY = "gong_meetings.response_headers"


class RequestIdMiddleware:
    """Gives every response an `X-Request-Id`, 500s included, and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
                extra = scope.get(RESPONSE_HEADERS_KEY, {})
                message["headers"] = [
                    *message.get("headers", ()),
                    header,
                    *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not status:
                raise
            # Starlette re-raises after it has sent the 500; it is logged with the request id.
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s %.1fms request_id=%s",
                    scope["method"],
                    scope["path"],
                    status or 500,
                    (time.perf_counter() - started) * 1000,
                    request_id,
                )
