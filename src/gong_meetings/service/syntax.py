"""Email addresses as users are stored and matched, with the contract's own syntax rule."""

import re

from gong_meetings.wire import EMAIL_MAX, EMAIL_PYTHON_PATTERN

# The served contract publishes this pattern; a library's idea of a valid address would differ
# from it at the edges, and then the server would disagree with its own documentation.
_EMAIL = re.compile(EMAIL_PYTHON_PATTERN)


def is_email(address: str) -> bool:
    """Syntax only: no DNS, since a stand-in must work offline and with made-up domains."""
    return len(address) <= EMAIL_MAX and _EMAIL.match(address) is not None


def normalize_email(address: str) -> str:
    """The form users are stored and matched by: addresses compare case-insensitively."""
    return address.lower()
