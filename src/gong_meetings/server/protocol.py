"""uvicorn's httptools protocol with the two cut-offs it lacks.

uvicorn (0.54) starts no timer until a first response is sent, and httptools buffers a header
of any size. So a client could hold a connection open forever by trickling header bytes, or
by never sending any, and could make the server buffer megabytes of headers. No server option
covers either, hence this subclass (a documented extension point: `uvicorn.run(http=...)`):

- Headers must be complete within `header_timeout_seconds` of the connection opening or of
  the previous response ending. A connection that sent nothing by then is closed; one that
  sent part of a request gets a 408 envelope first. The same deadline bounds the rest of a
  body the app did not read.
- The request line and headers may take `max_header_bytes`; beyond that the answer is 431.

It also sends a response in one write, where uvicorn writes its head and then its body: each
write on loopback costs a send and a wake-up of the client, charged to the server, and the
second one was 15% of an integration-status call's time (bench/README.md, eighth session).

Bodies that arrive too slowly or too large are cut off by the app (see server/body.py).
"""

import asyncio
import functools
import logging
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gong_meetings import metrics
from gong_meetings.config import Settings
from gong_meetings.ids import new_request_id
from gong_meetings.server.middleware import (
    BODY_RECEIVED_KEY,
    REFUSAL_KEY,
    error_body,
    record_request,
)

log = logging.getLogger("gong_meetings.server")
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


@functools.cache
def _settings() -> Settings:
    """Read once per worker process: `serve` puts every option in the environment."""
    return Settings.from_env()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = _settings()
        self._max_header_bytes = settings.max_header_bytes
        self._header_timeout = settings.header_timeout_seconds
        # Bytes received since the current request began, while its headers are incomplete.
        self._header_bytes = 0
        self._awaiting_headers = True
        self._message_complete = True
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(cast(asyncio.Transport, _WritesJoined(transport, self.loop)))
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if (
            self._awaiting_headers
            and self._header_bytes > self._max_header_bytes
            and not self.transport.is_closing()
        ):
            self._refuse(431, self._too_large_message())

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._message_complete = False
        self._cancel_deadline()
        size = len(self.url) + sum(len(name) + len(value) for name, value in self.headers)
        if size > self._max_header_bytes:
            # Headers that arrived in one read are only measured here; the app answers 431.
            self.scope[REFUSAL_KEY] = (431, self._too_large_message())  # type: ignore[literal-required]
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if not self.cycle.more_body:  # the request's whole body is in the cycle's hands
            self.scope[BODY_RECEIVED_KEY] = True  # type: ignore[literal-required]
        self._message_complete = True
        self._awaiting_headers = True
        self._header_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (
            self._awaiting_headers or not self._message_complete
        ):
            self._arm_deadline()

    def _arm_deadline(self) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(self._header_timeout, self._on_deadline)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _on_deadline(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._awaiting_headers and self._header_bytes == 0:
            self.transport.close()  # idle: nothing to answer, and a 408 could be misread
        elif self._awaiting_headers or not self._message_complete:
            self._refuse(
                408, f"request: not received in full within {self._header_timeout:g} seconds"
            )

    def _too_large_message(self) -> str:
        return f"request headers: larger than the limit of {self._max_header_bytes} bytes"

    def _refuse(self, status: int, message: str) -> None:
        """Answer without the app, which has no request to see, and close the connection."""
        request_id = new_request_id()
        body = error_body(request_id, message)
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"x-request-id: %s\r\nconnection: close\r\n\r\n"
            % (status, _REASONS[status], len(body), request_id.encode("ascii"))
        )
        self.transport.write(head + body)
        self.transport.close()
        log.warning("refused a request from %s: %s", self.client, message)
        record_request(
            request_id=request_id,
            method="-",
            path="-",
            route=metrics.UNMATCHED_ROUTE,
            status=status,
            seconds=0.0,
        )


class _WritesJoined:
    """A transport that sends what is written to it in one event-loop turn as one write, at
    the end of the turn: so a response's head and body leave together. Closing sends what is
    waiting first; what the transport does not need changed, it is asked directly."""

    __slots__ = ("_loop", "_transport", "_waiting")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._waiting: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._waiting:
            self._loop.call_soon(self._send)
        self._waiting.append(data)

    def close(self) -> None:
        self._send()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def _send(self) -> None:
        if not self._waiting:
            return
        data = b"".join(self._waiting)
        self._waiting.clear()
        if not self._transport.is_closing():  # the client went away: nobody to send it to
            self._transport.write(data)
