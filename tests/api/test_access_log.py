import logging

import pytest

from tests.helpers import Tenant, assert_request_id, meeting_body


async def test_each_request_is_logged_with_its_request_id(
    client, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gong_meetings.access")
    created = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer), auth=tenant.auth
    )
    missing = await client.get("/v2/nowhere")
    lines = [r.getMessage() for r in caplog.records if r.name == "gong_meetings.access"]
    for response, expected in (
        (created, "POST /v2/meetings 201"),
        (missing, "GET /v2/nowhere 404"),
    ):
        request_id = assert_request_id(response)
        assert any(expected in line and f"request_id={request_id}" in line for line in lines), lines
