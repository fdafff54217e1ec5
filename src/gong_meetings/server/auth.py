"""The Authorization header, parsed into credentials for the service to verify."""

import base64

from starlette.requests import Request

from gong_meetings.records import Caller
from gong_meetings.service.auth import Authenticator

BASIC_CHALLENGE = 'Basic realm="gong-meetings", charset="UTF-8"'


async def authenticate(request: Request, authenticator: Authenticator) -> Caller:
    """The caller behind HTTP Basic credentials; every kind of failure is the same 401."""
    scheme, _, encoded = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        raise authenticator.failure()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII input
        raise authenticator.failure() from None
    access_key, colon, secret = decoded.partition(":")
    if not colon or not access_key or not secret:
        raise authenticator.failure()
    return await authenticator.verify(access_key, secret)
