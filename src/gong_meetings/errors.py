"""One error hierarchy. The server maps each to its status and the contract's envelope."""

from collections.abc import Mapping


class ApiError(Exception):
    """A failure the client should see, with one message per problem."""

    status_code = 500

    def __init__(self, *messages: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__("; ".join(messages))
        self.messages: list[str] = list(messages)
        self.headers: dict[str, str] = dict(headers or {})


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401


class NotFound(ApiError):
    status_code = 404


class RequestTimeout(ApiError):
    status_code = 408


class PayloadTooLarge(ApiError):
    status_code = 413


class UnsupportedMediaType(ApiError):
    status_code = 415


class Conflict(Exception):
    """An admin operation that clashes with stored data (a duplicate name, say)."""


class Missing(Exception):
    """An admin operation on something that does not exist."""


class SchemaNotCurrent(Exception):
    """The database schema is not the one this code was written for."""


class PreconditionFailed(ApiError):
    status_code = 412


class ServiceUnavailable(ApiError):
    status_code = 503


class Forbidden(ApiError):
    status_code = 403


class RateLimited(ApiError):
    status_code = 429


class ConflictingRequest(ApiError):
    """The request clashes with an earlier one (an Idempotency-Key reused for another body)."""

    status_code = 409
