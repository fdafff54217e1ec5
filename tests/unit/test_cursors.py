"""List cursors are signed but never compressed (service/cursors.py), and the compressed
cursors issued before that change still read as the same position. The codec's own JSON and
its kept signer make the cursors itsdangerous makes and reads, with the same keys."""

import hashlib
from datetime import UTC, datetime

import pytest
from itsdangerous import URLSafeSerializer

from gong_meetings.errors import BadRequest
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


def plain_serializer(secret: bytes = SECRET) -> URLSafeSerializer:
    """What the codec signed with before: itsdangerous as it comes, the standard library's
    JSON, a signer made for each call."""
    return URLSafeSerializer(secret, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})


def as_signed(position: Position) -> list[object]:
    """The list a cursor signs, as CursorCodec.encode builds it."""
    found = position.filter
    return [
        position.workspace_id,
        {
            "start_from": found.start_from.isoformat() if found.start_from else None,
            "start_to": found.start_to.isoformat() if found.start_to else None,
            "organizer": found.organizer,
            "attendee": found.attendee,
        },
        position.after_start.isoformat(),
        position.after_id,
        position.page,
        position.total,
    ]


def test_a_compressed_cursor_issued_before_still_reads() -> None:
    old = plain_serializer().dumps(as_signed(POSITION))
    assert payload(old).startswith(".")  # the compressed form, as the test intends
    assert CursorCodec(SECRET).decode(old, 7) == POSITION


def test_cursors_are_itsdangerous_cursors_signed_with_the_same_key() -> None:
    short = Position(3, MeetingFilter(), datetime(2031, 3, 4, 15, tzinfo=UTC), 42, 1, 20)
    codec = CursorCodec(SECRET)
    cursor = codec.encode(short)
    # itsdangerous as it comes checks the signature and reads the JSON.
    assert plain_serializer().loads(cursor) == as_signed(short)
    assert plain_serializer(b"t" * 32).loads_unsafe(cursor) == (False, as_signed(short))
    # Each read checks the signature with the kept key, and another secret's is refused.
    assert codec.decode(cursor, 3) == short
    assert codec.decode(cursor, 3) == short
    forged = CursorCodec(b"t" * 32).encode(short)
    assert payload(forged) == payload(cursor)
    with pytest.raises(BadRequest, match="cursor: not a cursor this server issued"):
        codec.decode(forged, 3)
