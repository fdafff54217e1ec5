"""If-Match, the header clients use to avoid overwriting each other's changes."""

from starlette.requests import Request

from gong_meetings.server.query import header_values
from gong_meetings.service.meetings import Versions


def if_match(request: Request) -> Versions | None:
    """The entity tags If-Match names; None when absent or `*` (any current version will do).

    Several header lines make one list (RFC 9110 section 5.3). Tags are compared as text, the
    strong comparison If-Match requires: `W/"1"` or `"01"` never matches `"1"`.
    """
    lines = header_values(request, b"if-match")
    if not lines:
        return None
    header = ", ".join(lines).strip()
    if header == "*":
        return None
    return frozenset(tag.strip() for tag in header.split(","))
