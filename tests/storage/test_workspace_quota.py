"""Workspace limits stored and read back through AccountService, on SQLite and PostgreSQL:
the whole allowed range (1 to 2**31 - 1, a 32-bit integer column) fits on both."""

import pytest

from gong_meetings.records import Quota
from gong_meetings.service.accounts import MAX_CALLS, AccountService, InvalidInput

EXTREMES = [Quota(1, MAX_CALLS), Quota(MAX_CALLS, 1), Quota(MAX_CALLS, MAX_CALLS), Quota(1, 1)]


def quotas(accounts: AccountService) -> dict[str, Quota]:
    return {w.name: w.quota for w in accounts.list_workspaces()}


def test_the_largest_limit_is_a_32_bit_integer() -> None:
    assert MAX_CALLS == 2_147_483_647


@pytest.mark.parametrize("quota", EXTREMES)
def test_limits_at_the_ends_of_the_range_are_stored(accounts: AccountService, quota: Quota) -> None:
    created = accounts.create_workspace("acme", quota=quota)
    assert created.quota == quota
    assert quotas(accounts) == {"acme": quota}

    accounts.create_workspace("later")
    updated = accounts.update_workspace(
        "later", calls_per_second=quota.per_second, calls_per_day=quota.per_day
    )
    assert updated.quota == quota
    assert quotas(accounts) == {"acme": quota, "later": quota}


@pytest.mark.parametrize(
    ("quota", "unit"),
    [
        (Quota(0, 5), "per second"),
        (Quota(MAX_CALLS + 1, 5), "per second"),
        (Quota(5, 0), "per day"),
        (Quota(5, MAX_CALLS + 1), "per day"),
        (Quota(-1, -1), "per second"),
    ],
)
def test_limits_outside_the_range_are_refused_and_nothing_is_stored(
    accounts: AccountService, quota: Quota, unit: str
) -> None:
    message = f"the rate limit {unit} must be between 1 and {MAX_CALLS}"
    with pytest.raises(InvalidInput, match=message):
        accounts.create_workspace("acme", quota=quota)
    assert quotas(accounts) == {}

    accounts.create_workspace("acme", quota=Quota(7, 70))
    with pytest.raises(InvalidInput, match=message):
        accounts.update_workspace(
            "acme", calls_per_second=quota.per_second, calls_per_day=quota.per_day
        )
    assert quotas(accounts) == {"acme": Quota(7, 70)}
