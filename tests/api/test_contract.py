"""The served contract keeps every part of the seed and documents what the server enforces."""

from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml

from gong_meetings import wire

SEED = yaml.safe_load((files("gong_meetings.contract") / "seed.yaml").read_text("utf-8"))
SHARED_SEED = Path(__file__).resolve().parents[3] / "shared/spec/gong-meetings-openapi.yml"


def assert_extends(seed: Any, served: Any, path: str = "$") -> None:
    """`served` keeps everything in `seed`: keys, values, lists; descriptions may only grow."""
    if isinstance(seed, dict):
        assert isinstance(served, dict), path
        for key, value in seed.items():
            assert key in served, f"{path}.{key} is missing"
            if key == "description" and isinstance(value, str):
                assert served[key].startswith(value.rstrip()), f"{path}.{key} changed"
            else:
                assert_extends(value, served[key], f"{path}.{key}")
    elif isinstance(seed, list) and path.endswith((".servers", ".tags")):
        for server in seed:
            assert server in served, f"{path} lost {server}"
    else:
        assert seed == served, f"{path}: {seed!r} became {served!r}"


async def test_served_document_extends_the_seed(client) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert_extends(SEED, response.json())


def test_the_check_catches_a_changed_seed() -> None:
    served = yaml.safe_load(yaml.safe_dump(SEED))
    served["components"]["schemas"]["CreateMeetingRequest"]["required"].pop()
    with pytest.raises(AssertionError, match="required"):
        assert_extends(SEED, served)
    served = yaml.safe_load(yaml.safe_dump(SEED))
    del served["paths"]["/meetings/{meetingId}"]["put"]["responses"]["404"]
    with pytest.raises(AssertionError, match="404"):
        assert_extends(SEED, served)


@pytest.mark.skipif(not SHARED_SEED.exists(), reason="the shared spec is not beside this clone")
def test_packaged_seed_is_the_shared_contract() -> None:
    packaged = (files("gong_meetings.contract") / "seed.yaml").read_text("utf-8")
    assert packaged == SHARED_SEED.read_text("utf-8")


async def test_served_document_states_the_enforced_bounds(client) -> None:
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for name in ("CreateMeetingRequest", "UpdateMeetingRequest"):
        fields = schemas[name]["properties"]
        assert fields["title"]["maxLength"] == wire.TITLE_MAX
        assert fields["description"]["maxLength"] == wire.DESCRIPTION_MAX
        assert fields["meetingUrl"]["maxLength"] == wire.URL_MAX
        assert fields["attendees"]["maxItems"] == wire.ATTENDEES_MAX
    create = schemas["CreateMeetingRequest"]["properties"]
    assert create["organizerEmail"]["maxLength"] == wire.EMAIL_MAX
    assert create["meetingProvider"]["maxLength"] == wire.PROVIDER_MAX
    assert create["externalMeetingId"]["maxLength"] == wire.EXTERNAL_MEETING_ID_MAX
    attendee = schemas["MeetingAttendee"]["properties"]
    assert attendee["name"]["maxLength"] == wire.ATTENDEE_NAME_MAX
    assert attendee["emailAddress"]["maxLength"] == wire.EMAIL_MAX


async def test_every_response_documents_the_request_id_and_extra_statuses(client) -> None:
    document = (await client.get("/openapi.json")).json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "servers" or "Meetings" not in operation["tags"]:
                continue  # the OAuth token endpoint answers in OAuth's own format
            responses = operation["responses"]
            for status, response in responses.items():
                assert "X-Request-Id" in response["headers"], (path, method, status)
            assert "500" in responses
            assert "WWW-Authenticate" in responses["401"]["headers"]
            if "requestBody" in operation:
                assert {"413", "415"} <= set(responses), (path, method)


async def test_docs_page_works_offline(client) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "/openapi.json" in page.text
    # Every asset the page loads is served by this server: nothing from a CDN.
    assert "http://" not in page.text and "https://" not in page.text
    for asset in ("/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js"):
        assert asset in page.text
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 10_000


async def test_served_patterns_are_the_ones_the_server_applies(client) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    create, update = (
        schemas[n]["properties"] for n in ("CreateMeetingRequest", "UpdateMeetingRequest")
    )
    expected = {
        "organizerEmail": wire.EMAIL_PATTERN,
        "meetingUrl": wire.URL_PATTERN,
        "scheduledStart": wire.DATETIME_PATTERN,
        "scheduledEnd": wire.DATETIME_PATTERN,
        "meetingProvider": wire.PROVIDER_PATTERN,
    }
    for field, pattern in expected.items():
        assert create[field]["pattern"] == pattern, field
        if field in update:
            assert update[field]["pattern"] == pattern, field
    assert schemas["MeetingAttendee"]["properties"]["emailAddress"]["pattern"] == wire.EMAIL_PATTERN
    status = schemas["MeetingIntegrationStatusRequest"]["properties"]
    assert status["userEmail"]["pattern"] == wire.EMAIL_PATTERN
    assert status["meetingProvider"]["pattern"] == wire.PROVIDER_PATTERN
