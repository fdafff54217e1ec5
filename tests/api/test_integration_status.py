"""POST /v2/meetings/integration-status, answered from the workspace's users and integrations."""

from typing import Any

import httpx
import pytest

from gong_meetings.service.accounts import AccountService
from tests.helpers import Tenant, assert_error, assert_request_id

# Marked here, not only by conftest: its late marker makes anyio re-create each item and drop
# the parameters of parametrized tests.

URL = "/v2/meetings/integration-status"
SUPPORTED = "Zoom, Google Meet, Microsoft Teams, Webex"
COLLEAGUE = "colleague@acme.test"


async def check(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    """A 200 answer in the contract's shape, with requestId equal to the header."""
    response = await client.post(URL, json=body, auth=tenant.auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer: dict[str, Any] = response.json()
    assert set(answer) - {"provider"} == {"requestId", "isIntegrated", "status", "details"}
    assert answer["requestId"] == assert_request_id(response)
    assert isinstance(answer["isIntegrated"], bool)
    assert answer["status"] in {"Active", "Inactive", "Error"}
    assert isinstance(answer["details"], str) and answer["details"]
    return answer


def integrate(
    accounts: AccountService,
    email: str,
    provider: str,
    status: str,
    details: str | None = None,
) -> None:
    accounts.set_integration("acme", email, provider, status, details)


# --- userEmail and meetingProvider --------------------------------------------------------------


async def test_active_integration_is_integrated(
    client, tenant: Tenant, accounts: AccountService
) -> None:
    integrate(accounts, tenant.organizer, "Zoom", "Active")
    answer = await check(client, tenant, userEmail=tenant.organizer, meetingProvider="Zoom")
    assert set(answer) == {"requestId", "isIntegrated", "provider", "status", "details"}
    assert answer["isIntegrated"] is True
    assert answer["status"] == "Active"
    assert answer["provider"] == "Zoom"


@pytest.mark.parametrize("status", ["Inactive", "Error"])
async def test_other_statuses_pass_through_and_are_not_integrated(
    client, tenant: Tenant, accounts: AccountService, status: str
) -> None:
    integrate(accounts, tenant.organizer, "Webex", status)
    answer = await check(client, tenant, userEmail=tenant.organizer, meetingProvider="Webex")
    assert (answer["isIntegrated"], answer["status"], answer["provider"]) == (
        False,
        status,
        "Webex",
    )


@pytest.mark.parametrize("status", ["Active", "Error"])
async def test_custom_details_are_returned(
    client, tenant: Tenant, accounts: AccountService, status: str
) -> None:
    details = f"token refreshed by the admin ({status})"
    integrate(accounts, tenant.organizer, "Google Meet", status, details)
    answer = await check(client, tenant, userEmail=tenant.organizer, meetingProvider="meet")
    assert answer["details"] == details


async def test_the_latest_setting_wins(client, tenant: Tenant, accounts: AccountService) -> None:
    integrate(accounts, tenant.organizer, "Zoom", "Active")
    integrate(accounts, tenant.organizer, "zoom", "Error", "expired")
    answer = await check(client, tenant, userEmail=tenant.organizer, meetingProvider="Zoom")
    assert (answer["isIntegrated"], answer["status"], answer["details"]) == (
        False,
        "Error",
        "expired",
    )


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("ZOOM", "Zoom"),
        ("zoom", "Zoom"),
        ("google_meet", "Google Meet"),
        ("meet", "Google Meet"),
        ("Google Meet", "Google Meet"),
        ("msteams", "Microsoft Teams"),
        ("teams", "Microsoft Teams"),
        ("Microsoft Teams", "Microsoft Teams"),
        ("microsoft teams", "Microsoft Teams"),
        ("webex", "Webex"),
        ("WebEx", "Webex"),
    ],
)
async def test_provider_aliases_are_matched_case_insensitively(
    client, tenant: Tenant, accounts: AccountService, given: str, canonical: str
) -> None:
    integrate(accounts, tenant.organizer, canonical, "Active")
    answer = await check(client, tenant, userEmail=tenant.organizer, meetingProvider=given)
    assert (answer["isIntegrated"], answer["provider"]) == (True, canonical)
    # Only that provider: the alias did not match everything.
    others = [p for p in ("Zoom", "Google Meet", "Microsoft Teams", "Webex") if p != canonical]
    for other in others:
        answer = await check(client, tenant, userEmail=tenant.organizer, meetingProvider=other)
        assert (answer["isIntegrated"], answer["provider"]) == (False, other)


async def test_user_email_is_matched_case_insensitively(
    client, tenant: Tenant, accounts: AccountService
) -> None:
    integrate(accounts, tenant.organizer, "Zoom", "Active")
    answer = await check(client, tenant, userEmail=tenant.organizer.upper(), meetingProvider="zoom")
    assert answer["isIntegrated"] is True


async def test_a_user_without_that_provider_is_not_integrated(
    client, tenant: Tenant, accounts: AccountService
) -> None:
    integrate(accounts, tenant.organizer, "Zoom", "Active")
    answer = await check(client, tenant, userEmail=tenant.organizer, meetingProvider="webex")
    assert (answer["isIntegrated"], answer["status"], answer["provider"]) == (
        False,
        "Inactive",
        "Webex",
    )
    assert "Webex" in answer["details"]


async def test_another_users_integration_does_not_count_for_a_user(
    client, tenant: Tenant, accounts: AccountService
) -> None:
    accounts.add_user("acme", COLLEAGUE, None)
    integrate(accounts, COLLEAGUE, "Zoom", "Active")
    answer = await check(client, tenant, userEmail=tenant.organizer, meetingProvider="Zoom")
    assert (answer["isIntegrated"], answer["status"]) == (False, "Inactive")


# --- only userEmail -----------------------------------------------------------------------------


async def test_user_only_prefers_an_active_integration(
    client, tenant: Tenant, accounts: AccountService
) -> None:
    # Names that sort before and after the active one, so that order alone cannot pick it.
    integrate(accounts, tenant.organizer, "Google Meet", "Inactive")
    integrate(accounts, tenant.organizer, "Microsoft Teams", "Active")
    integrate(accounts, tenant.organizer, "Webex", "Error")
    integrate(accounts, tenant.organizer, "Zoom", "Inactive")
    answer = await check(client, tenant, userEmail=tenant.organizer)
    assert (answer["isIntegrated"], answer["status"], answer["provider"]) == (
        True,
        "Active",
        "Microsoft Teams",
    )


async def test_user_only_with_one_inactive_integration(
    client, tenant: Tenant, accounts: AccountService
) -> None:
    integrate(accounts, tenant.organizer, "Zoom", "Inactive")
    answer = await check(client, tenant, userEmail=tenant.organizer)
    assert (answer["isIntegrated"], answer["status"], answer["provider"]) == (
        False,
        "Inactive",
        "Zoom",
    )


async def test_user_only_without_integrations_is_inactive(client, tenant: Tenant) -> None:
    answer = await check(client, tenant, userEmail=tenant.organizer)
    assert (answer["isIntegrated"], answer["status"]) == (False, "Inactive")
    assert tenant.organizer in answer["details"]


# --- only meetingProvider -----------------------------------------------------------------------


async def test_provider_only_is_integrated_when_any_user_has_it_active(
    client, tenant: Tenant, accounts: AccountService
) -> None:
    accounts.add_user("acme", COLLEAGUE, None)
    integrate(accounts, tenant.organizer, "Microsoft Teams", "Inactive")
    integrate(accounts, COLLEAGUE, "Microsoft Teams", "Active")
    answer = await check(client, tenant, meetingProvider="teams")
    assert (answer["isIntegrated"], answer["status"], answer["provider"]) == (
        True,
        "Active",
        "Microsoft Teams",
    )


@pytest.mark.parametrize("configured", [None, "Inactive"])
async def test_provider_only_without_an_active_user_is_not_integrated(
    client, tenant: Tenant, accounts: AccountService, configured: str | None
) -> None:
    integrate(accounts, tenant.organizer, "Zoom", "Active")  # another provider entirely
    if configured:
        integrate(accounts, tenant.organizer, "Webex", configured)
    answer = await check(client, tenant, meetingProvider="Webex")
    assert (answer["isIntegrated"], answer["status"], answer["provider"]) == (
        False,
        "Inactive",
        "Webex",
    )
    assert "Webex" in answer["details"]


async def test_provider_only_with_only_errors_is_not_integrated(
    client, tenant: Tenant, accounts: AccountService
) -> None:
    integrate(accounts, tenant.organizer, "Zoom", "Error")
    answer = await check(client, tenant, meetingProvider="zoom")
    assert answer["isIntegrated"] is False
    assert answer["status"] in {"Error", "Inactive"}


# --- unknown users, removed users ---------------------------------------------------------------


@pytest.mark.parametrize("provider", [None, "zoom"])
async def test_unknown_user_is_200_not_integrated_with_the_reason(
    client, tenant: Tenant, accounts: AccountService, provider: str | None
) -> None:
    integrate(accounts, tenant.organizer, "Zoom", "Active")
    body = {"userEmail": "nobody@acme.test"}
    if provider:
        body["meetingProvider"] = provider
    answer = await check(client, tenant, **body)
    assert (answer["isIntegrated"], answer["status"]) == (False, "Inactive")
    assert "nobody@acme.test" in answer["details"] and "not a user" in answer["details"]
    if provider:
        assert answer["provider"] == "Zoom"


async def test_a_removed_user_no_longer_counts(
    client, tenant: Tenant, accounts: AccountService
) -> None:
    accounts.add_user("acme", COLLEAGUE, None)
    integrate(accounts, COLLEAGUE, "Zoom", "Active")
    assert (await check(client, tenant, meetingProvider="Zoom"))["isIntegrated"] is True
    assert (await check(client, tenant, userEmail=COLLEAGUE))["isIntegrated"] is True

    accounts.remove_user("acme", COLLEAGUE)

    by_provider = await check(client, tenant, meetingProvider="Zoom")
    assert (by_provider["isIntegrated"], by_provider["status"]) == (False, "Inactive")
    by_user = await check(client, tenant, userEmail=COLLEAGUE, meetingProvider="Zoom")
    assert (by_user["isIntegrated"], by_user["status"]) == (False, "Inactive")
    assert "not a user" in by_user["details"]


# --- 400 and 401 --------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["Skype", "zoomx", "", "Google", "Teams Classic"])
async def test_unknown_provider_is_400_listing_the_supported_names(
    client, tenant: Tenant, provider: str
) -> None:
    response = await client.post(URL, json={"meetingProvider": provider}, auth=tenant.auth)
    assert_error(response, 400, "meetingProvider", SUPPORTED)


async def test_unknown_provider_with_a_user_is_still_400(client, tenant: Tenant) -> None:
    response = await client.post(
        URL, json={"userEmail": tenant.organizer, "meetingProvider": "Skype"}, auth=tenant.auth
    )
    assert_error(response, 400, "meetingProvider", SUPPORTED)


@pytest.mark.parametrize("body", [{}, {"somethingElse": "zoom"}])
async def test_neither_field_is_400(client, tenant: Tenant, body: dict[str, str]) -> None:
    response = await client.post(URL, json=body, auth=tenant.auth)
    assert_error(response, 400, "userEmail", "meetingProvider")


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@acme.test", "two@@acme.test", ""])
async def test_bad_user_email_is_400(client, tenant: Tenant, email: str) -> None:
    response = await client.post(
        URL, json={"userEmail": email, "meetingProvider": "zoom"}, auth=tenant.auth
    )
    assert_error(response, 400, "userEmail")


@pytest.mark.parametrize(
    "body", [{"userEmail": None}, {"userEmail": 42}, {"meetingProvider": ["zoom"]}]
)
async def test_wrong_types_are_400(client, tenant: Tenant, body: dict[str, Any]) -> None:
    response = await client.post(URL, json=body, auth=tenant.auth)
    assert_error(response, 400, next(iter(body)))


@pytest.mark.parametrize("authorization", [None, "Basic Zm9vOmJhcg==", "Bearer token"])
async def test_bad_credentials_are_401(
    client, tenant: Tenant, accounts: AccountService, authorization: str | None
) -> None:
    integrate(accounts, tenant.organizer, "Zoom", "Active")
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.post(URL, json={"meetingProvider": "zoom"}, headers=headers)
    assert_error(response, 401)
    # A bearer token that fails says so (RFC 6750); anything else is offered both schemes.
    expected = "Bearer" if authorization and authorization.startswith("Bearer") else "Basic"
    assert response.headers["www-authenticate"].startswith(expected)
