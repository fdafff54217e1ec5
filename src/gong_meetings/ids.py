"""Identifier formats: meeting ids, request ids and API credentials."""

import base64
import hashlib
import random
import secrets
import threading
import time

REQUEST_ID_LENGTH = 19

# A meeting id is (milliseconds since the epoch << 21) | 21 random bits. That fits a signed
# 64-bit column until the year 2109, prints as at most 19 decimal digits, sorts by creation
# and leaves about two million guesses per millisecond.
_RANDOM_BITS = 21
_last_meeting_id = 0
_meeting_id_lock = threading.Lock()
MAX_MEETING_ID = 2**63 - 1


# Request ids and the random part of meeting ids need to be distinct, not secret, so they come
# from `random` (seeded from the OS at start, and again in a forked child), not `secrets`:
# every call of that is a getrandom system call, where a busy machine takes the CPU away.
# Keys, secrets and tokens still come from `secrets`.
_unpredictable_enough = random.getrandbits


def new_request_id() -> str:
    """A fresh 19-character lowercase [a-z0-9] id, as Gong's requestId looks: 76 random bits
    in hex, on every request, so made in one step rather than digit by digit."""
    return f"{_unpredictable_enough(76):019x}"


def new_meeting_id() -> int:
    """A time-ordered id, strictly increasing within this process."""
    global _last_meeting_id
    candidate = (time.time_ns() // 1_000_000) << _RANDOM_BITS | _unpredictable_enough(_RANDOM_BITS)
    with _meeting_id_lock:
        if candidate <= _last_meeting_id:
            candidate = _last_meeting_id + 1
        _last_meeting_id = candidate
    return candidate


def parse_meeting_id(text: str) -> int | None:
    """The meeting id in a path, or None when it cannot name any meeting."""
    if not (0 < len(text) <= 19 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= MAX_MEETING_ID else None


def new_access_key() -> str:
    """A public key id: 32 uppercase base32 characters, like Gong's access keys."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def new_access_key_secret() -> str:
    """A secret of 32 random bytes; it never contains ':' so Basic auth can split on it."""
    return secrets.token_urlsafe(32)


def secret_digest(secret: str) -> bytes:
    """What we store instead of a secret: a fast digest, since it is checked on every call."""
    return hashlib.sha256(secret.encode("utf-8")).digest()
