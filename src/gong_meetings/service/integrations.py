"""Integration status, answered from the workspace's users and their provider integrations."""

from dataclasses import dataclass

from msgspec import UNSET
from sqlalchemy import Connection

from gong_meetings.errors import BadRequest
from gong_meetings.providers import canonical_provider
from gong_meetings.records import Caller, Integration
from gong_meetings.service.syntax import normalize_email
from gong_meetings.storage import accounts as account_store
from gong_meetings.storage.database import Database
from gong_meetings.wire import IntegrationStatusRequest

ACTIVE, INACTIVE, ERROR = "Active", "Inactive", "Error"
# When a user has several integrations and names no provider, report the healthiest.
_PREFERENCE = {ACTIVE: 0, ERROR: 1, INACTIVE: 2}


@dataclass(frozen=True, slots=True)
class IntegrationAnswer:
    is_integrated: bool
    status: str
    details: str
    provider: str | None


def _from_integration(integration: Integration) -> IntegrationAnswer:
    details = integration.details or (
        f"{integration.user_email} has {integration.provider} {integration.status.lower()}"
    )
    return IntegrationAnswer(
        integration.status == ACTIVE, integration.status, details, integration.provider
    )


def _for_user(email: str, provider: str | None, found: list[Integration]) -> IntegrationAnswer:
    if found:
        return _from_integration(min(found, key=lambda i: _PREFERENCE.get(i.status, 3)))
    what = provider or "any meeting provider"
    return IntegrationAnswer(False, INACTIVE, f"{email} has not connected {what}", provider)


def _for_provider(provider: str, found: list[Integration]) -> IntegrationAnswer:
    active = [i for i in found if i.status == ACTIVE]
    if active:
        return IntegrationAnswer(
            True,
            ACTIVE,
            f"{len(active)} user(s) in this workspace have {provider} active",
            provider,
        )
    if any(i.status == ERROR for i in found):
        return IntegrationAnswer(
            False, ERROR, f"{provider} is connected in this workspace but in error", provider
        )
    return IntegrationAnswer(
        False, INACTIVE, f"no user in this workspace has {provider} active", provider
    )


class IntegrationService:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def status(self, caller: Caller, request: IntegrationStatusRequest) -> IntegrationAnswer:
        """Check one user's, one provider's, or one user's provider's integration."""
        if request.user_email is UNSET and request.meeting_provider is UNSET:
            raise BadRequest("body: at least one of userEmail or meetingProvider is required")
        # The wire type admits only known provider names, so this always finds one.
        provider = (
            None
            if request.meeting_provider is UNSET
            else canonical_provider(request.meeting_provider)
        )
        email = None if request.user_email is UNSET else request.user_email
        return await self._database.read(
            lambda connection: self._answer(connection, caller, email, provider),
            one_statement=True,
        )

    @staticmethod
    def _answer(
        connection: Connection, caller: Caller, email: str | None, provider: str | None
    ) -> IntegrationAnswer:
        if email is None:
            assert provider is not None
            everyones = account_store.list_integrations(
                connection, caller.workspace_id, provider=provider
            )
            return _for_provider(provider, everyones)
        found = account_store.user_integrations(
            connection, caller.workspace_id, normalize_email(email), provider
        )
        if found is None:
            return IntegrationAnswer(
                False, INACTIVE, f"{email} is not a user of this workspace", provider
            )
        return _for_user(email, provider, found)
