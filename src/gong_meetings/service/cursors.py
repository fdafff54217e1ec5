"""List cursors: where the next page starts, signed so that a client can neither forge nor
alter one. They carry the query they belong to and the total counted on its first page."""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from itsdangerous import BadData, Serializer, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode, want_bytes
from itsdangerous.signer import HMACAlgorithm

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


class _Json:
    """The JSON a cursor carries, through msgspec: the standard library's took a third of a
    cursor's making. It reads what the standard library wrote, in cursors issued before."""

    @staticmethod
    def dumps(obj: Any) -> str:
        return msgspec.json.encode(obj).decode("utf-8")

    @staticmethod
    def loads(text: str | bytes) -> Any:
        return msgspec.json.decode(text)


class _KeyKeepingSigner(Signer):
    """A Signer that derives each secret's key once: Signer derives it anew, a hash, at
    every signature and every check."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keys: dict[bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        wanted = None if secret_key is None else want_bytes(secret_key)
        key = self._keys.get(wanted)
        if key is None:
            key = self._keys[wanted] = super().derive_key(wanted)
        return key


class _OneCallHmac(HMACAlgorithm):
    """HMAC-SHA256 in one call of the standard library's C code: the same signature as
    HMACAlgorithm's, which makes an hmac object and feeds it (a fifth of a cursor's making)."""

    def __init__(self) -> None:
        super().__init__(hashlib.sha256)

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, "sha256")


class _UncompressedSerializer(URLSafeSerializer):
    """URLSafeSerializer that never tries zlib on what it signs, and signs with one Signer
    made once. A cursor is a hundred bytes or so, too short to gain much from zlib, and the
    try cost a third of its making (11.5 to 8 µs, on every page with a next one). It still
    reads the compressed cursors URLSafeSerializer made (a leading `.`), so cursors issued
    before stay good."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signer = super().make_signer()

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        return self._signer if salt in (None, self.salt) else super().make_signer(salt)

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._serializer = _UncompressedSerializer(
            secret,
            salt=_SALT,
            serializer=_Json,
            signer=_KeyKeepingSigner,
            signer_kwargs={"digest_method": hashlib.sha256, "algorithm": _OneCallHmac()},
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
