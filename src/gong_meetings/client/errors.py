"""The SDK's errors: one base class, one subclass per status the contract names, and two for
when no answer came at all."""

from collections.abc import Sequence


class GongMeetingsError(Exception):
    """Anything the SDK raises about a call. `status_code` is None when no answer came."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        errors: Sequence[str] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id
        self.errors = list(errors)
        self.retry_after = retry_after

    def __str__(self) -> str:
        text = super().__str__()
        if self.request_id:
            text += f" (requestId {self.request_id})"
        return text


class APIError(GongMeetingsError):
    """The server answered with an error status; `errors` holds its messages."""


class BadRequest(APIError):
    """400 (and 413, 415): the request is malformed; each message names the field."""


class Unauthorized(APIError):
    """401: missing, wrong, revoked or expired credentials."""


class Forbidden(APIError):
    """403: a bearer token without the scope the operation needs."""


class NotFound(APIError):
    """404: no such meeting in your workspace."""


class Conflict(APIError):
    """409: an Idempotency-Key reused for a different request."""


class PreconditionFailed(APIError):
    """412: If-Match named a version the meeting is no longer at."""


class RateLimited(APIError):
    """429: a rate limit is spent; `retry_after` says how long to wait, in seconds."""


class ServerError(APIError):
    """5xx: the server failed or is unavailable."""


class APIConnectionError(GongMeetingsError):
    """No answer: the connection failed or broke."""


class APITimeoutError(APIConnectionError):
    """No answer in time."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: BadRequest,
    415: BadRequest,
    429: RateLimited,
}


def error_class(status_code: int) -> type[APIError]:
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIError)
