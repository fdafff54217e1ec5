from tests.helpers import Tenant, create_meeting


async def test_create_returns_the_meeting(client, tenant: Tenant) -> None:
    body = await create_meeting(client, tenant)
    assert body["meeting"]["id"] == body["meetingId"]
