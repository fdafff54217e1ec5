"""A client no one here wrote: openapi-python-client generates one from the contract a live
`gong-meetings serve` serves at /openapi.json, and that client creates, updates, reads, lists
and deletes a meeting, checks an integration and gets a bearer token, on a real socket.

Every response must parse into the generated models: `.parsed` is the model the contract names
for that status (never None, never a plain dict), errors included. The generated client raises
on any status the contract does not name, so an undocumented answer fails the test too.

The generator runs offline: it reads the contract from a file, and its post-generation hooks
run the ruff installed beside this Python. Its environment points every proxy at a closed port,
so anything that tried to fetch over HTTP would fail the generation.
"""

import base64
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.helpers import REQUEST_ID
from tests.system.live import SCRIPT, Server, admin, running_server, server_env

GENERATOR = Path(sys.executable).with_name("openapi-python-client")

pytestmark = [
    pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}"),
    pytest.mark.skipif(
        importlib.util.find_spec("openapi_python_client") is None or not GENERATOR.exists(),
        reason="openapi-python-client is not installed (pip install -e '.[test]' brings it)",
    ),
]

# The generated package's import name: the last part of --output-path.
PACKAGE = "gong_meetings_generated_client"
GENERATE_TIMEOUT_SECONDS = 60
REQUEST_TIMEOUT = httpx.Timeout(10.0)
CLOSED_PORT_PROXY = "http://127.0.0.1:9"

WORKSPACE = "generated"
ORGANIZER = "organizer@generated.test"
ATTENDEE = "bob@example.org"
START = datetime(2026, 12, 1, 15, tzinfo=UTC)
END = datetime(2026, 12, 1, 16, tzinfo=UTC)


@dataclass(frozen=True)
class Site:
    server: Server
    auth: tuple[str, str]


@dataclass(frozen=True)
class Generation:
    """What the generator printed, and the generated package, importable."""

    stdout: str
    stderr: str
    models: ModuleType
    client: ModuleType
    root: Path

    def api(self, tag: str, operation: str) -> ModuleType:
        return importlib.import_module(f"{PACKAGE}.api.{tag}.{operation}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server on a SQLite database with one workspace, its organizer with an active Zoom
    integration, and one key; rate limits out of the way."""
    root = tmp_path_factory.mktemp("site")
    cwd = root / "work"
    cwd.mkdir()
    env = server_env(f"sqlite:///{cwd}/generated.db")
    admin(env, "migrate")
    admin(env, "workspaces", "create", WORKSPACE, "--rate-limit-per-second=1000")
    admin(env, "users", "add", ORGANIZER, "--workspace", WORKSPACE, "--name", "Organizer")
    key = json.loads(admin(env, "keys", "create", "--workspace", WORKSPACE, "--json"))
    admin(
        env,
        *("integrations", "set", ORGANIZER, "Zoom", "Active"),
        *("--workspace", WORKSPACE, "--details", "Connected through the admin CLI."),
    )
    with running_server(cwd, env, root / "logs") as server:
        yield Site(server, (key["accessKey"], key["accessKeySecret"]))


@pytest.fixture(scope="module")
def generation(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generation]:
    """The served contract saved to a file, a client generated from it, put on sys.path."""
    root = tmp_path_factory.mktemp("generated")
    contract = root / "openapi.json"
    served = httpx.get(f"{site.server.base_url}/openapi.json", timeout=REQUEST_TIMEOUT)
    assert served.status_code == 200, served.text
    contract.write_bytes(served.content)

    env = {
        **os.environ,
        # The hooks call `ruff`: the one installed beside this Python, whatever PATH says.
        "PATH": os.pathsep.join([str(GENERATOR.parent), os.environ.get("PATH", "")]),
        **{name: CLOSED_PORT_PROXY for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")},
        **{name.lower(): CLOSED_PORT_PROXY for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")},
        "NO_PROXY": "",
        "no_proxy": "",
    }
    done = subprocess.run(
        [
            str(GENERATOR),
            *("generate", "--path", str(contract), "--output-path", str(root / PACKAGE)),
            *("--meta", "none", "--fail-on-warning"),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=GENERATE_TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)

    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield Generation(
            done.stdout,
            done.stderr,
            importlib.import_module(f"{PACKAGE}.models"),
            importlib.import_module(f"{PACKAGE}.client"),
            root,
        )
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def basic(auth: tuple[str, str]) -> str:
    return base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()


def client(generation: Generation, base_url: str, token: str, prefix: str) -> Any:
    """The generated AuthenticatedClient; it raises on any status the contract does not name."""
    return generation.client.AuthenticatedClient(
        base_url=base_url,
        token=token,
        prefix=prefix,
        timeout=REQUEST_TIMEOUT,
        raise_on_unexpected_status=True,
    )


@pytest.fixture
def api(site: Site, generation: Generation) -> Iterator[Any]:
    """The generated client for /v2 with the key as Basic credentials. The contract's server
    `/v2` is not used by the generated code, so the base URL carries it."""
    with client(generation, f"{site.server.base_url}/v2", basic(site.auth), "Basic") as api:
        yield api


def parsed(response: Any, status: int, model: type) -> Any:
    """`response.parsed`, checked to be an instance of the generated `model`."""
    assert response.status_code == status, (response.status_code, response.content)
    assert isinstance(response.parsed, model), (type(response.parsed), response.content)
    assert not isinstance(response.parsed, dict)
    return response.parsed


def error(generation: Generation, response: Any, status: int, *fragments: str) -> None:
    """The response is the error envelope, parsed into the generated ErrorResponse."""
    envelope = parsed(response, status, generation.models.ErrorResponse)
    assert REQUEST_ID.match(envelope.request_id), envelope.request_id
    assert envelope.request_id == response.headers["X-Request-Id"]
    assert envelope.errors, response.content
    for fragment in fragments:
        assert any(fragment in message for message in envelope.errors), (
            fragment,
            envelope.errors,
        )


def status_request(generation: Generation, **fields: str) -> Any:
    """The integration-status body, as the generated model."""
    return generation.models.MeetingIntegrationStatusRequest(**fields)


def test_the_generator_reports_no_warning_or_error(generation: Generation) -> None:
    # --fail-on-warning makes any warning a failure; this shows there was nothing to say.
    assert generation.stderr == "", generation.stderr
    assert generation.stdout.strip() == f"Generating {generation.root / PACKAGE}"
    models = generation.models
    for name in (
        "CreateMeetingRequest",
        "UpdateMeetingRequest",
        "MeetingAttendee",
        "MeetingResponse",
        "Meeting",
        "GetMeetingResponse",
        "ListMeetingsResponse",
        "Records",
        "BaseResponse",
        "ErrorResponse",
        "MeetingIntegrationStatusResponse",
        "TokenRequest",
        "TokenResponse",
        "OAuthError",
    ):
        assert isinstance(getattr(models, name, None), type), name


def test_the_integration_status_request_is_a_generated_model(generation: Generation) -> None:
    assert isinstance(getattr(generation.models, "MeetingIntegrationStatusRequest", None), type)


def test_a_meeting_created_updated_read_listed_and_deleted_through_the_generated_client(
    api: Any, generation: Generation
) -> None:
    models = generation.models
    create = generation.api("meetings", "create_meeting")
    update = generation.api("meetings", "update_meeting")
    get = generation.api("meetings", "get_meeting")
    listing = generation.api("meetings", "list_meetings")
    delete = generation.api("meetings", "delete_meeting")

    body = models.CreateMeetingRequest(
        title="Quarterly review",
        scheduled_start=START,
        scheduled_end=END,
        organizer_email=ORGANIZER,
        attendees=[models.MeetingAttendee(email_address=ATTENDEE, name="Bob")],
        meeting_provider="zoom",
    )
    answer = create.sync_detailed(client=api, body=body, idempotency_key="generated-client-1")
    created = parsed(answer, 201, models.MeetingResponse)
    assert answer.headers["ETag"] == '"1"'
    meeting_id = created.meeting_id
    meeting = created.meeting
    assert isinstance(meeting, models.MeetingResponseMeeting)
    assert (meeting.id, meeting.title) == (meeting_id, "Quarterly review")
    assert (meeting.scheduled_start, meeting.scheduled_end) == (START, END)
    assert meeting.organizer_email == ORGANIZER
    assert meeting.meeting_provider == "Zoom"
    [attendee] = meeting.attendees
    assert isinstance(attendee, models.MeetingAttendee)
    assert (attendee.email_address, attendee.name) == (ATTENDEE, "Bob")

    # The Idempotency-Key header parameter: the same key and body answer as the first did.
    again = create.sync_detailed(client=api, body=body, idempotency_key="generated-client-1")
    assert parsed(again, 201, models.MeetingResponse).meeting_id == meeting_id
    assert again.headers["Idempotent-Replayed"] == "true"

    answer = update.sync_detailed(
        meeting_id, client=api, body=models.UpdateMeetingRequest(title="Quarterly review (moved)")
    )
    updated = parsed(answer, 200, models.MeetingResponse)
    assert answer.headers["ETag"] == '"2"'
    assert updated.meeting_id == meeting_id
    assert updated.meeting.title == "Quarterly review (moved)"
    assert updated.meeting.scheduled_start == START

    read = parsed(get.sync_detailed(meeting_id, client=api), 200, models.GetMeetingResponse)
    assert isinstance(read.meeting, models.Meeting)
    assert (read.meeting.id, read.meeting.title) == (meeting_id, "Quarterly review (moved)")
    assert isinstance(read.meeting.attendees[0], models.MeetingAttendee)

    page = parsed(
        listing.sync_detailed(client=api, organizer_email=ORGANIZER, attendee_email=ATTENDEE),
        200,
        models.ListMeetingsResponse,
    )
    assert isinstance(page.records, models.Records)
    assert page.records.current_page_number == 0
    assert page.records.current_page_size == len(page.meetings)
    assert all(isinstance(m, models.Meeting) for m in page.meetings)
    assert meeting_id in [m.id for m in page.meetings]

    deleted = parsed(delete.sync_detailed(meeting_id, client=api), 200, models.BaseResponse)
    assert REQUEST_ID.match(deleted.request_id)

    # Gone: each operation's 404 parses into the generated ErrorResponse.
    error(generation, get.sync_detailed(meeting_id, client=api), 404)
    error(generation, delete.sync_detailed(meeting_id, client=api), 404)
    error(
        generation,
        update.sync_detailed(meeting_id, client=api, body=models.UpdateMeetingRequest(title="x")),
        404,
    )


def test_integration_status_through_the_generated_client(api: Any, generation: Generation) -> None:
    models = generation.models
    check = generation.api("meetings", "validate_meeting_integration_status")

    answer = check.sync_detailed(
        client=api, body=status_request(generation, user_email=ORGANIZER, meeting_provider="Zoom")
    )
    status = parsed(answer, 200, models.MeetingIntegrationStatusResponse)
    assert status.is_integrated is True
    assert status.status == models.MeetingIntegrationStatusResponseStatus.ACTIVE
    assert status.provider == "Zoom"
    assert status.details == "Connected through the admin CLI."

    answer = check.sync_detailed(
        client=api, body=status_request(generation, meeting_provider="webex")
    )
    status = parsed(answer, 200, models.MeetingIntegrationStatusResponse)
    assert status.is_integrated is False
    assert status.status == models.MeetingIntegrationStatusResponseStatus.INACTIVE
    assert status.provider == "Webex"

    # Neither field: 400, parsed.
    error(generation, check.sync_detailed(client=api, body=status_request(generation)), 400)


def test_error_answers_parse_into_the_generated_error_model(
    api: Any, site: Site, generation: Generation
) -> None:
    models = generation.models
    create = generation.api("meetings", "create_meeting")
    backwards = models.CreateMeetingRequest(
        title="Backwards", scheduled_start=END, scheduled_end=START, organizer_email=ORGANIZER
    )
    error(generation, create.sync_detailed(client=api, body=backwards), 400, "scheduledEnd")

    wrong = (site.auth[0], "not-the-secret")
    base_url = f"{site.server.base_url}/v2"
    with client(generation, base_url, basic(wrong), "Basic") as refused:
        body = models.CreateMeetingRequest(
            title="Refused", scheduled_start=START, scheduled_end=END, organizer_email=ORGANIZER
        )
        answer = create.sync_detailed(client=refused, body=body)
    error(generation, answer, 401)
    assert "Basic" in answer.headers["WWW-Authenticate"]


def test_a_bearer_token_from_the_generated_token_operation(
    site: Site, generation: Generation
) -> None:
    """The OAuth addition through generated code. The token endpoint's own server `/` (it is not
    under /v2) is ignored by the generated code too, so its client gets the bare address."""
    models = generation.models
    issue = generation.api("o_auth", "issue_token")
    scope = "api:meetings:integration:status"
    body = models.TokenRequest(
        grant_type=models.TokenRequestGrantType.CLIENT_CREDENTIALS, scope=scope
    )
    with client(generation, site.server.base_url, basic(site.auth), "Basic") as oauth:
        token = parsed(issue.sync_detailed(client=oauth, body=body), 200, models.TokenResponse)
    assert token.token_type == models.TokenResponseTokenType.BEARER
    assert token.scope == scope
    assert token.expires_in > 0

    with client(generation, site.server.base_url, basic(site.auth[::-1]), "Basic") as oauth:
        refused = parsed(issue.sync_detailed(client=oauth, body=body), 401, models.OAuthError)
    assert refused.error == models.OAuthErrorError.INVALID_CLIENT

    base_url = f"{site.server.base_url}/v2"
    with client(generation, base_url, token.access_token, "Bearer") as bearer:
        check = generation.api("meetings", "validate_meeting_integration_status")
        answer = check.sync_detailed(
            client=bearer, body=status_request(generation, user_email=ORGANIZER)
        )
        assert parsed(answer, 200, models.MeetingIntegrationStatusResponse).is_integrated

        # A scope the token lacks: 403, parsed.
        create = generation.api("meetings", "create_meeting")
        body = models.CreateMeetingRequest(
            title="Out of scope",
            scheduled_start=START,
            scheduled_end=END,
            organizer_email=ORGANIZER,
        )
        error(generation, create.sync_detailed(client=bearer, body=body), 403, "scope")
