"""If-Match, the header clients use to avoid overwriting each other's changes."""

from starlette.requests import Request

from gong_meetings.service.meetings import Versions

_MAX_TAG_DIGITS = 18


def if_match(request: Request) -> Versions | None:
    """The versions If-Match names; None when absent or `*` (any current version will do).

    Only strong tags of our form (`"3"`) can match; weak or foreign tags match nothing, so a
    request carrying only those gets 412, as RFC 9110's strong comparison requires.
    """
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    versions = set()
    for tag in header.split(","):
        tag = tag.strip()
        inner = tag[1:-1]
        quoted = len(tag) > 2 and tag[0] == tag[-1] == '"'
        if quoted and inner.isascii() and inner.isdigit() and len(inner) <= _MAX_TAG_DIGITS:
            versions.add(int(inner))
    return frozenset(versions)
