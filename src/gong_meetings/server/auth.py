"""Who may call: the Authorization header parsed and verified, failures and calls counted."""

import base64

from starlette.requests import Request

from gong_meetings.errors import Unauthorized
from gong_meetings.records import Caller
from gong_meetings.server.middleware import RESPONSE_HEADERS_KEY, WORKSPACE_KEY
from gong_meetings.server.query import first_header
from gong_meetings.service.auth import Authenticator
from gong_meetings.service.ratelimits import RateLimiter, raw_rate_limit_headers


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(accessKey, secret) from a Basic Authorization value, or None when it is not one."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII input
        return None
    access_key, colon, secret = decoded.partition(":")
    if not colon or not access_key or not secret:
        return None
    return access_key, secret


async def authenticate(header: str, authenticator: Authenticator) -> Caller:
    """The caller behind the Basic credentials or bearer token of an Authorization `header`
    that `authenticator.verified` does not know; any failure is the same 401."""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return await authenticator.verify_token(token.strip(), header)
    credentials = basic_credentials(header)
    if credentials is None:
        raise authenticator.failure()
    return await authenticator.verify(*credentials, header)


def client_address(request: Request) -> str:
    """The peer's address, or the client a trusted proxy names (see ProxyHeadersMiddleware).
    Read from the scope: Request.client makes a named tuple at every use."""
    client = request.scope.get("client")
    return str(client[0]) if client else "unknown"


class Gate:
    """Every API call passes here: an address with too many failed logins is refused, the
    caller is authenticated, and the call is counted against the caller's workspace."""

    def __init__(self, authenticator: Authenticator, limiter: RateLimiter) -> None:
        self._authenticator = authenticator
        self._limiter = limiter

    async def admit(self, request: Request) -> Caller:
        address = client_address(request)
        header = first_header(request, b"authorization")
        caller = self._authenticator.verified(header)
        remembered = caller is not None
        if caller is None:
            await self._limiter.refuse_if_blocked(address)
            try:
                caller = await authenticate(header, self._authenticator)
            except Unauthorized:
                await self._limiter.count_failure(address)
                raise
        request.scope[WORKSPACE_KEY] = caller.workspace_name
        if remembered:
            # Credentials that passed moments ago: nothing to verify, so the address's check and
            # the call's count are one step, one round trip to Redis (RateLimiter.admit).
            windows = self._limiter.admit_in_memory(address, caller)
            if windows is None:
                windows = await self._limiter.admit(address, caller)
        else:
            windows = await self._limiter.charge(caller)
        request.scope[RESPONSE_HEADERS_KEY] = raw_rate_limit_headers(caller, windows)
        return caller
