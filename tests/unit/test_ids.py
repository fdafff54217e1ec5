import re

from gong_meetings.ids import (
    MAX_MEETING_ID,
    new_access_key,
    new_access_key_secret,
    new_meeting_id,
    new_request_id,
    parse_meeting_id,
)


def test_request_ids_are_19_lowercase_alphanumerics_and_distinct() -> None:
    ids = [new_request_id() for _ in range(2000)]
    assert all(re.fullmatch(r"[a-z0-9]{19}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_meeting_ids_increase_and_fit_19_digits() -> None:
    ids = [new_meeting_id() for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(0 < i <= MAX_MEETING_ID and len(str(i)) <= 19 for i in ids)


def test_parse_meeting_id_admits_only_what_we_issue() -> None:
    issued = new_meeting_id()
    assert parse_meeting_id(str(issued)) == issued
    for text in ("", "0", "-1", "abc", "1.5", "١٢٣", str(MAX_MEETING_ID + 1), "1" * 20):
        assert parse_meeting_id(text) is None, text


def test_credentials_never_contain_a_colon_and_secrets_are_long() -> None:
    for _ in range(200):
        key, secret = new_access_key(), new_access_key_secret()
        assert ":" not in key and ":" not in secret
        assert re.fullmatch(r"[A-Z2-7]{32}", key)
        assert len(secret) >= 43
