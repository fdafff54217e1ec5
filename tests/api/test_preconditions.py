"""ETag and If-Match on meetings: versions, preconditions, 412s, and no lost updates.

Every test here runs on SQLite and on PostgreSQL through the `client` fixture.
"""

import asyncio
from typing import Any

import httpx
import pytest

from gong_meetings.service.accounts import AccountService
from tests.helpers import Tenant, assert_error, make_tenant, meeting_body

NEVER_EXISTED = "1234567890123456789"
CONCURRENT_UPDATES = 50
# Header forms that are not a strong entity tag of ours, so they never match (RFC 9110 8.8.3.2).
NEVER_MATCHING: list[str | bytes] = [
    'W/"1"',  # weak: If-Match uses the strong comparison
    'W/"1", W/"2"',
    "1",  # unquoted
    '"1',
    '1"',
    '"x1"',
    '"1 "',
    '"-1"',
    '"1.0"',
    '"\u00b9"'.encode("latin-1"),  # SUPERSCRIPT ONE: a digit to str.isdigit, not to us
    "garbage",
    '""',
    ",",
]


async def put(
    client: httpx.AsyncClient,
    tenant: Tenant,
    meeting_id: str,
    body: Any,
    if_match: str | bytes | None = None,
) -> httpx.Response:
    headers = {} if if_match is None else {"If-Match": if_match}
    return await client.put(
        f"/v2/meetings/{meeting_id}", json=body, auth=tenant.auth, headers=headers
    )


async def delete(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str, if_match: str | bytes | None = None
) -> httpx.Response:
    headers = {} if if_match is None else {"If-Match": if_match}
    return await client.delete(f"/v2/meetings/{meeting_id}", auth=tenant.auth, headers=headers)


async def create(client: httpx.AsyncClient, tenant: Tenant, **overrides: Any) -> dict[str, Any]:
    """A new meeting; its ETag must be the first version."""
    response = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer, **overrides), auth=tenant.auth
    )
    assert response.status_code == 201, response.text
    assert response.headers.get("etag") == '"1"', response.headers
    meeting: dict[str, Any] = response.json()["meeting"]
    return meeting


async def current(
    client: httpx.AsyncClient, tenant: Tenant, meeting_id: str
) -> tuple[dict[str, Any], str]:
    """The stored meeting and its ETag, read through a no-op `{}` PUT (there is no GET)."""
    response = await put(client, tenant, meeting_id, {})
    assert response.status_code == 200, response.text
    meeting: dict[str, Any] = response.json()["meeting"]
    return meeting, response.headers["etag"]


def assert_precondition_failed(response: httpx.Response, current_etag: str) -> None:
    """412 in the envelope, naming the header and the meeting's current ETag."""
    errors = assert_error(response, 412, "If-Match")
    assert any(current_etag in e for e in errors), (current_etag, errors)


# --- ETag on responses ------------------------------------------------------------------------


async def test_create_returns_a_strong_etag_of_the_first_version(client, tenant: Tenant) -> None:
    response = await client.post(
        "/v2/meetings", json=meeting_body(tenant.organizer), auth=tenant.auth
    )
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'


async def test_each_change_counts_one_version_and_an_empty_put_none(client, tenant: Tenant) -> None:
    created = await create(client, tenant)
    meeting_id = created["id"]

    renamed = await put(client, tenant, meeting_id, {"title": "Renamed"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.headers["etag"] == '"2"'

    for _ in range(2):
        unchanged = await put(client, tenant, meeting_id, {})
        assert unchanged.status_code == 200, unchanged.text
        assert unchanged.headers["etag"] == '"2"'
        assert unchanged.json()["meeting"] == renamed.json()["meeting"]

    described = await put(client, tenant, meeting_id, {"description": "Agenda"})
    assert described.headers["etag"] == '"3"'
    assert described.json()["meeting"] == {**renamed.json()["meeting"], "description": "Agenda"}


async def test_a_rejected_update_does_not_count_a_version(client, tenant: Tenant) -> None:
    created = await create(client, tenant)
    bad = await put(client, tenant, created["id"], {"scheduledEnd": "2000-01-01T00:00:00Z"})
    assert_error(bad, 400, "scheduledEnd")
    assert await current(client, tenant, created["id"]) == (created, '"1"')


# --- If-Match on PUT ----------------------------------------------------------------------------


async def test_put_with_a_matching_if_match_applies_the_change(client, tenant: Tenant) -> None:
    created = await create(client, tenant)
    response = await put(client, tenant, created["id"], {"title": "Renamed"}, if_match='"1"')
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert response.json()["meeting"] == {**created, "title": "Renamed"}
    # The new ETag is the one that now matches.
    again = await put(client, tenant, created["id"], {"title": "Again"}, if_match='"2"')
    assert again.status_code == 200, again.text
    assert again.headers["etag"] == '"3"'


@pytest.mark.parametrize("body", [{"title": "Overwritten"}, {}])
async def test_put_with_a_stale_if_match_is_412_and_changes_nothing(
    client, tenant: Tenant, body: dict[str, Any]
) -> None:
    created = await create(client, tenant)
    winner = await put(client, tenant, created["id"], {"title": "First writer"}, if_match='"1"')
    assert winner.status_code == 200, winner.text

    late = await put(client, tenant, created["id"], body, if_match='"1"')

    assert_precondition_failed(late, '"2"')
    assert await current(client, tenant, created["id"]) == (winner.json()["meeting"], '"2"')


async def test_put_with_a_stale_if_match_is_412_even_when_the_change_is_invalid_there(
    client, tenant: Tenant
) -> None:
    """The precondition is checked first: a stale client learns it is stale, not a 400."""
    created = await create(client, tenant)
    await put(client, tenant, created["id"], {"title": "v2"})
    late = await put(
        client, tenant, created["id"], {"scheduledEnd": "2000-01-01T00:00:00Z"}, if_match='"1"'
    )
    assert_precondition_failed(late, '"2"')


# --- If-Match on DELETE -----------------------------------------------------------------------


async def test_delete_with_a_matching_if_match_deletes(client, tenant: Tenant) -> None:
    created = await create(client, tenant)
    await put(client, tenant, created["id"], {"title": "v2"})
    response = await delete(client, tenant, created["id"], if_match='"2"')
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"requestId"}
    assert_error(await put(client, tenant, created["id"], {}), 404)


async def test_delete_with_a_stale_if_match_is_412_and_deletes_nothing(
    client, tenant: Tenant
) -> None:
    created = await create(client, tenant)
    changed = await put(client, tenant, created["id"], {"title": "Changed meanwhile"})

    response = await delete(client, tenant, created["id"], if_match='"1"')

    assert_precondition_failed(response, '"2"')
    assert await current(client, tenant, created["id"]) == (changed.json()["meeting"], '"2"')


# --- the forms of If-Match --------------------------------------------------------------------


@pytest.mark.parametrize("star", ["*", " * "])
async def test_if_match_star_is_no_precondition(client, tenant: Tenant, star: str) -> None:
    created = await create(client, tenant)
    await put(client, tenant, created["id"], {"title": "v2"})
    updated = await put(client, tenant, created["id"], {"title": "v3"}, if_match=star)
    assert updated.status_code == 200, updated.text
    assert updated.headers["etag"] == '"3"'
    deleted = await delete(client, tenant, created["id"], if_match=star)
    assert deleted.status_code == 200, deleted.text
    assert_error(await put(client, tenant, created["id"], {}), 404)


@pytest.mark.parametrize(
    "tags", ['"1", "7"', '"7", "1"', '"7","1"', '  "9" ,  "1"  ', 'W/"1", "1"']
)
async def test_a_list_matches_when_any_tag_matches(client, tenant: Tenant, tags: str) -> None:
    created = await create(client, tenant)
    updated = await put(client, tenant, created["id"], {"title": "Listed"}, if_match=tags)
    assert updated.status_code == 200, updated.text
    assert updated.headers["etag"] == '"2"'
    # The list now names only a stale version (or a weak tag): the delete must not happen.
    assert_precondition_failed(await delete(client, tenant, created["id"], if_match=tags), '"2"')
    deleted = await delete(client, tenant, created["id"], if_match=f'{tags}, "2"')
    assert deleted.status_code == 200, deleted.text


async def test_a_list_split_over_several_header_lines_is_one_list(client, tenant: Tenant) -> None:
    """RFC 9110 5.3: `If-Match: "7"` and `If-Match: "1"` as two lines mean `"7", "1"`."""
    created = await create(client, tenant)
    response = await client.put(
        f"/v2/meetings/{created['id']}",
        json={"title": "Two lines"},
        auth=tenant.auth,
        headers=[("If-Match", '"7"'), ("If-Match", '"1"')],
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'


@pytest.mark.parametrize("header", NEVER_MATCHING)
async def test_weak_and_malformed_tags_never_match(
    client, tenant: Tenant, header: str | bytes
) -> None:
    created = await create(client, tenant)
    assert_precondition_failed(
        await put(client, tenant, created["id"], {"title": "No"}, if_match=header), '"1"'
    )
    assert_precondition_failed(await delete(client, tenant, created["id"], if_match=header), '"1"')
    assert await current(client, tenant, created["id"]) == (created, '"1"')


@pytest.mark.parametrize("header", ['"01"', '"001"', '"1", "02"'])
async def test_a_tag_is_compared_character_by_character_not_as_a_number(
    client, tenant: Tenant, header: str
) -> None:
    """`"01"` is not the entity tag `"1"` (RFC 9110 8.8.3.2: opaque-tags match char by char)."""
    created = await create(client, tenant)
    if header.startswith('"1"'):
        await put(client, tenant, created["id"], {"title": "v2"})
        expected = '"2"'
    else:
        expected = '"1"'
    assert_precondition_failed(
        await put(client, tenant, created["id"], {"title": "No"}, if_match=header), expected
    )
    assert_precondition_failed(
        await delete(client, tenant, created["id"], if_match=header), expected
    )
    assert (await current(client, tenant, created["id"]))[1] == expected


# --- tenancy ------------------------------------------------------------------------------------


@pytest.fixture
def globex(accounts: AccountService, tenant: Tenant) -> Tenant:
    """A second workspace next to `acme`, with its own organizer and key."""
    return make_tenant(accounts, "globex")


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize("header", ['"1"', '"9"', "*", 'W/"1"'])
async def test_another_workspaces_meeting_with_if_match_is_404_like_a_missing_one(
    client, tenant: Tenant, globex: Tenant, method: str, header: str
) -> None:
    """A 412 (or a 200) would show that the id exists, and its version."""
    created = await create(client, tenant)

    async def attempt(meeting_id: str) -> httpx.Response:
        if method == "PUT":
            return await put(client, globex, meeting_id, {"title": "Taken"}, if_match=header)
        return await delete(client, globex, meeting_id, if_match=header)

    foreign = await attempt(created["id"])
    missing = await attempt(NEVER_EXISTED)

    assert assert_error(foreign, 404) == assert_error(missing, 404)
    assert "etag" not in foreign.headers
    assert await current(client, tenant, created["id"]) == (created, '"1"')


async def test_a_missing_meeting_with_if_match_is_404(client, tenant: Tenant) -> None:
    assert_error(await put(client, tenant, NEVER_EXISTED, {}, if_match='"1"'), 404, "meetingId")
    assert_error(await delete(client, tenant, NEVER_EXISTED, if_match='"1"'), 404, "meetingId")


# --- the served contract ----------------------------------------------------------------------


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (one level is all the document uses)."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


async def test_openapi_documents_etag_if_match_412_and_503(client) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    put_op = paths["/meetings/{meetingId}"]["put"]
    delete_op = paths["/meetings/{meetingId}"]["delete"]
    create_op = paths["/meetings"]["post"]

    for operation in (put_op, delete_op):
        assert "If-Match" in operation["description"]
        failed = resolve(document, operation["responses"]["412"])
        schema = failed["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
        assert "ETag" in failed["description"]

    for operation, status in ((create_op, "201"), (put_op, "200")):
        headers = operation["responses"][status]["headers"]
        etag = resolve(document, headers["ETag"])
        assert etag["schema"]["type"] == "string"
        assert etag["schema"]["pattern"] == '^"[0-9]+"$'

    operations = [
        (path, method, operation)
        for path, item in paths.items()
        for method, operation in item.items()
        # Health probes answer in their own shape (readyz's 503 names what failed).
        if method in {"get", "put", "post", "delete", "patch"}
        and "Operations" not in operation.get("tags", [])
    ]
    assert len(operations) >= 4
    for path, method, operation in operations:
        unavailable = resolve(document, operation["responses"].get("503", {}))
        assert unavailable, f"{method.upper()} {path} does not document 503"
        retry_after = resolve(document, unavailable["headers"]["Retry-After"])
        assert retry_after["schema"]["pattern"] == "^[0-9]+$", (path, method)
        schema = unavailable["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (path, method)


# --- no lost updates --------------------------------------------------------------------------


def change_for(i: int) -> dict[str, Any]:
    """Update number i: one of three fields, so concurrent updates touch different fields."""
    if i % 3 == 0:
        return {"title": f"t{i}"}
    if i % 3 == 1:
        return {"description": f"d{i}"}
    return {"attendees": [{"emailAddress": f"a{i}@example.com", "name": f"A{i}"}]}


async def test_concurrent_updates_are_each_applied_exactly_once(client, tenant: Tenant) -> None:
    created = await create(client, tenant, attendees=[])
    meeting_id = created["id"]

    responses = await asyncio.gather(
        *(put(client, tenant, meeting_id, change_for(i)) for i in range(CONCURRENT_UPDATES))
    )

    assert [r.status_code for r in responses] == [200] * CONCURRENT_UPDATES, [
        (r.status_code, r.text) for r in responses if r.status_code != 200
    ]
    # Every update got its own version: none was applied twice or lost.
    versions = {int(r.headers["etag"].strip('"')): i for i, r in enumerate(responses)}
    assert sorted(versions) == list(range(2, CONCURRENT_UPDATES + 2))

    # Replayed in version order, each response is exactly its predecessor plus its own change.
    expected = created
    for version in sorted(versions):
        i = versions[version]
        expected = {**expected, **change_for(i)}
        assert responses[i].json()["meeting"] == expected, (version, i)

    final, tag = await current(client, tenant, meeting_id)
    assert tag == f'"{CONCURRENT_UPDATES + 1}"'
    assert final in [r.json()["meeting"] for r in responses]
    assert final == expected


async def test_concurrent_updates_with_the_same_if_match_let_exactly_one_win(
    client, tenant: Tenant
) -> None:
    created = await create(client, tenant)
    responses = await asyncio.gather(
        *(put(client, tenant, created["id"], {"title": f"t{i}"}, if_match='"1"') for i in range(20))
    )
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [(r.status_code, r.text) for r in responses]
    for loser in responses:
        if loser is not winners[0]:
            # Not assert_error: in-process, asgi-lifespan shares one `state` dict between
            # concurrent requests, so the body's requestId may be another request's.
            assert loser.status_code == 412, loser.text
            [message] = loser.json()["errors"]
            assert message.startswith("If-Match:") and '"2"' in message, message
    assert await current(client, tenant, created["id"]) == (winners[0].json()["meeting"], '"2"')


async def test_concurrent_deletes_delete_once(client, tenant: Tenant) -> None:
    created = await create(client, tenant)
    responses = await asyncio.gather(
        *(delete(client, tenant, created["id"], if_match='"1"') for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [200] + [404] * 9, [
        (r.status_code, r.text) for r in responses
    ]
