"""Workspace isolation: another workspace's meetings, users and integrations do not show."""

from typing import Any

import httpx
import pytest

from gong_meetings.service.accounts import AccountService
from tests.helpers import Tenant, assert_error, create_meeting, make_tenant, meeting_body

# Marked here, not only by conftest: its late marker makes anyio re-create each item and drop
# the parameters of parametrized tests.

NEVER_EXISTED = "1234567890123456789"
STATUS_URL = "/v2/meetings/integration-status"


@pytest.fixture
def globex(accounts: AccountService, tenant: Tenant) -> Tenant:
    """A second workspace next to `acme`, with its own organizer and key."""
    return make_tenant(accounts, "globex")


async def stored(client: httpx.AsyncClient, owner: Tenant, meeting_id: str) -> dict[str, Any]:
    """The stored meeting as its owner sees it, read through a no-op `{}` PUT."""
    response = await client.put(f"/v2/meetings/{meeting_id}", json={}, auth=owner.auth)
    assert response.status_code == 200, response.text
    meeting: dict[str, Any] = response.json()["meeting"]
    return meeting


async def foreign_request(
    client: httpx.AsyncClient, caller: Tenant, method: str, meeting_id: str, body: Any
) -> httpx.Response:
    return await client.request(
        method,
        f"/v2/meetings/{meeting_id}",
        json=body if method == "PUT" else None,
        auth=caller.auth,
    )


PROBES = [
    ("PUT", {}),
    ("PUT", {"title": "Taken over", "attendees": []}),
    # A body that is 400 on the owner's meeting (end before the stored start) must still be a
    # 404 from another workspace: the schedule rule must not reveal that the id exists.
    ("PUT", {"scheduledEnd": "2000-01-01T00:00:00Z"}),
    ("DELETE", None),
]


@pytest.mark.parametrize(("method", "body"), PROBES)
async def test_another_workspaces_meeting_is_404_exactly_like_a_missing_one(
    client, tenant: Tenant, globex: Tenant, method: str, body: Any
) -> None:
    created = (
        await create_meeting(client, tenant, attendees=[{"emailAddress": "ann@example.com"}])
    )["meeting"]

    foreign = await foreign_request(client, globex, method, created["id"], body)
    missing = await foreign_request(client, globex, method, NEVER_EXISTED, body)

    assert assert_error(foreign, 404) == assert_error(missing, 404)
    assert foreign.headers.get("www-authenticate") == missing.headers.get("www-authenticate")
    assert set(foreign.json()) == set(missing.json())

    # Nothing changed, and the owner can still delete it.
    assert await stored(client, tenant, created["id"]) == created
    deleted = await client.delete(f"/v2/meetings/{created['id']}", auth=tenant.auth)
    assert deleted.status_code == 200, deleted.text


async def test_each_workspace_sees_only_its_own_meetings(
    client, tenant: Tenant, globex: Tenant
) -> None:
    ours = await create_meeting(client, tenant)
    theirs = await create_meeting(client, globex)
    # Both workspaces update and delete their own; neither reaches across.
    for owner, meeting, other in ((tenant, ours, globex), (globex, theirs, tenant)):
        assert (await stored(client, owner, meeting["meetingId"])) == meeting["meeting"]
        response = await client.delete(f"/v2/meetings/{meeting['meetingId']}", auth=other.auth)
        assert_error(response, 404)
    for owner, meeting in ((tenant, ours), (globex, theirs)):
        response = await client.delete(f"/v2/meetings/{meeting['meetingId']}", auth=owner.auth)
        assert response.status_code == 200, response.text


async def test_an_organizer_of_one_workspace_is_not_one_of_another(
    client, tenant: Tenant, globex: Tenant, accounts: AccountService
) -> None:
    response = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer), auth=globex.auth
    )
    assert_error(response, 400, "organizerEmail", "--workspace globex")
    # Nor was the user copied into globex by the attempt.
    assert [u.email for u in accounts.list_users("globex")] == [globex.organizer]


async def test_auto_provisioning_registers_in_the_callers_workspace_only(
    client, tenant: Tenant, accounts: AccountService
) -> None:
    lab = make_tenant(accounts, "lab", auto_provision=True)
    await create_meeting(client, lab, organizerEmail="visitor@lab.test")
    assert "visitor@lab.test" in [u.email for u in accounts.list_users("lab")]
    assert "visitor@lab.test" not in [u.email for u in accounts.list_users("acme")]
    response = await client.post(
        "/v2/meetings", json=meeting_body("visitor@lab.test"), auth=tenant.auth
    )
    assert_error(response, 400, "organizerEmail")


async def test_another_workspaces_user_is_not_a_user_for_integration_status(
    client, tenant: Tenant, globex: Tenant, accounts: AccountService
) -> None:
    accounts.set_integration("acme", tenant.organizer, "Zoom", "Active", None)
    own = await client.post(
        STATUS_URL,
        json={"userEmail": tenant.organizer, "meetingProvider": "zoom"},
        auth=tenant.auth,
    )
    assert own.json()["isIntegrated"] is True

    for body in (
        {"userEmail": tenant.organizer},
        {"userEmail": tenant.organizer, "meetingProvider": "zoom"},
    ):
        response = await client.post(STATUS_URL, json=body, auth=globex.auth)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert (answer["isIntegrated"], answer["status"]) == (False, "Inactive")
        assert "not a user" in answer["details"]


async def test_another_workspaces_integrations_do_not_count_for_a_provider(
    client, tenant: Tenant, globex: Tenant, accounts: AccountService
) -> None:
    accounts.set_integration("acme", tenant.organizer, "Webex", "Active", None)
    own = await client.post(STATUS_URL, json={"meetingProvider": "webex"}, auth=tenant.auth)
    assert own.json()["isIntegrated"] is True

    response = await client.post(STATUS_URL, json={"meetingProvider": "webex"}, auth=globex.auth)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["isIntegrated"], answer["status"], answer["provider"]) == (
        False,
        "Inactive",
        "Webex",
    )
    assert "1 user" not in answer["details"]
