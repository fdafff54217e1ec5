"""List cursors are signed but never compressed (service/cursors.py), and the compressed
cursors issued before that change still read as the same position."""

import hashlib
from datetime import UTC, datetime

from itsdangerous import URLSafeSerializer

from gong_meetings.service.cursors import _SALT, CursorCodec, Position
from gong_meetings.storage.meetings import MeetingFilter

SECRET = b"s" * 32
# Long, repetitive filters: zlib shrinks this payload, so URLSafeSerializer compressed it.
POSITION = Position(
    7,
    MeetingFilter(
        start_from=datetime(2030, 1, 1, tzinfo=UTC),
        start_to=datetime(2030, 12, 31, tzinfo=UTC),
        organizer="organizer.with.a.long.name@example.example.example.com",
        attendee="attendee.with.a.long.name@example.example.example.com",
    ),
    datetime(2030, 6, 1, 12, 30, tzinfo=UTC),
    2**62,
    4,
    1_000_000,
)


def payload(cursor: str) -> str:
    """The signed part of a cursor, without its signature."""
    return cursor.rsplit(".", 1)[0]


def test_a_cursor_round_trips_and_is_not_compressed() -> None:
    codec = CursorCodec(SECRET)
    cursor = codec.encode(POSITION)
    assert not payload(cursor).startswith(".")  # a leading dot marks a compressed payload
    assert codec.decode(cursor, 7) == POSITION


def test_a_compressed_cursor_issued_before_still_reads() -> None:
    before = URLSafeSerializer(SECRET, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})
    found = POSITION.filter
    old = before.dumps(
        [
            POSITION.workspace_id,
            {
                "start_from": found.start_from.isoformat() if found.start_from else None,
                "start_to": found.start_to.isoformat() if found.start_to else None,
                "organizer": found.organizer,
                "attendee": found.attendee,
            },
            POSITION.after_start.isoformat(),
            POSITION.after_id,
            POSITION.page,
            POSITION.total,
        ]
    )
    assert payload(old).startswith(".")  # the compressed form, as the test intends
    assert CursorCodec(SECRET).decode(old, 7) == POSITION
