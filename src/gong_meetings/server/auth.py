"""The Authorization header, parsed into credentials for the service to verify."""

import base64

from starlette.requests import Request

from gong_meetings.records import Caller
from gong_meetings.service.auth import Authenticator


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


async def authenticate(request: Request, authenticator: Authenticator) -> Caller:
    """The caller behind Basic credentials or a bearer token; any failure is the same 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return await authenticator.verify_token(token.strip())
    credentials = basic_credentials(header)
    if credentials is None:
        raise authenticator.failure()
    return await authenticator.verify(*credentials)
