"""List cursors: where the next page starts, signed so that a client can neither forge nor
alter one. They carry the query they belong to and the total counted on its first page."""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadData, URLSafeSerializer

from gong_meetings.errors import BadRequest
from gong_meetings.storage.meetings import MeetingFilter

_SALT = "gong-meetings.list-cursor"
_BAD_CURSOR = (
    "cursor: not a cursor this server issued, or it was altered;"
    " pass back the records.cursor of the previous page unchanged"
)


@dataclass(frozen=True, slots=True)
class Position:
    """Whose list, the last meeting of a page, the next page's number, and the list's total."""

    workspace_id: int
    filter: MeetingFilter
    after_start: datetime
    after_id: int
    page: int
    total: int


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeSerializer(
            secret, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )

    def encode(self, position: Position) -> str:
        found = position.filter
        where = {  # what asdict() gave, without its deep copy
            "start_from": None if found.start_from is None else found.start_from.isoformat(),
            "start_to": None if found.start_to is None else found.start_to.isoformat(),
            "organizer": found.organizer,
            "attendee": found.attendee,
        }
        after = position.after_start.isoformat()
        return self._serializer.dumps(
            [position.workspace_id, where, after, position.after_id, position.page, position.total]
        )

    def decode(self, cursor: str, workspace_id: int) -> Position:
        """The position `cursor` names in a list of `workspace_id`'s; 400 for anything else."""
        try:
            owner, where, after_start, after_id, page, total = self._serializer.loads(cursor)
            if owner != workspace_id:
                raise ValueError("another workspace's cursor")
            return Position(
                owner,
                MeetingFilter(
                    start_from=_instant(where["start_from"]),
                    start_to=_instant(where["start_to"]),
                    organizer=where["organizer"],
                    attendee=where["attendee"],
                ),
                datetime.fromisoformat(after_start),
                int(after_id),
                int(page),
                int(total),
            )
        except (BadData, ValueError, TypeError, KeyError):
            # Only our own, signed cursors reach the parsing; anything else is refused here.
            raise BadRequest(_BAD_CURSOR) from None


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
