"""Syntax checks for the strings the contract types loosely: emails and URLs."""

from functools import lru_cache
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

ALLOWED_URL_SCHEMES = ("http", "https")


@lru_cache(maxsize=8192)
def email_problem(address: str) -> str | None:
    """Why `address` is not a syntactically valid email address, or None when it is.

    Syntax only: no DNS, since a stand-in must work offline and with made-up domains.
    """
    try:
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError as error:
        return f"not a valid email address ({error})"
    return None


def url_problem(url: str) -> str | None:
    """Why `url` is not an absolute http(s) URL with a host, or None when it is."""
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "not a valid URL (it contains whitespace or control characters)"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "not a valid URL"
    if parts.scheme.lower() not in ALLOWED_URL_SCHEMES:
        return "must be an http or https URL"
    if not host:
        return "not a valid URL (it has no host)"
    return None


def normalize_email(address: str) -> str:
    """The form users are stored and matched by: addresses compare case-insensitively."""
    return address.strip().lower()
