"""`gong-meetings meetings ...` and `gong-meetings integration-status` (issue 7, point 6): the
installed console script, run as a separate process against a live `gong-meetings serve` on a
real socket, with a SQLite database in a temporary folder.

What each command prints is compared with what the server holds, read back over plain HTTP
(httpx, not the SDK the commands are built on). Errors must be one line on stderr, never a
traceback: `error: STATUS: MESSAGES (requestId ID)` for the server's answers, with the request
id checked against the server's own log, and exit 2 for usage errors.

One server serves the whole module. Most tests share workspace `cli` and touch only meetings
they create; the list tests use workspace `paging`, which holds exactly the fifteen meetings
made for them.
"""

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.system.live import (
    ROOMY_LIMITS,
    SCRIPT,
    Server,
    admin,
    free_port,
    running_server,
    server_env,
)

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}")

WORKSPACE = "cli"
PAGING = "paging"  # auto-provisions organizers; holds only the meetings `paged` makes
ORGANIZER = "organizer@cli.test"
ALICE = "alice@cli.test"
BOB = "bob@cli.test"
CARLA = "carla@paging.test"
DMITRI = "dmitri@paging.test"
ERIN = "erin@paging.test"
PAGED = 15
RUN_TIMEOUT_SECONDS = 30.0
LOG_DEADLINE_SECONDS = 5.0
READ_SCOPE = "api:meetings:user:read"
ERROR_LINE = re.compile(r"error: (?P<status>\d{3}): (?P<messages>.+) \(requestId (?P<id>\S+)\)")


# --- running the command ---------------------------------------------------------------------


def bare_env() -> dict[str, str]:
    """This process's environment without any GONG_ variable (no URL, no credentials)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GONG_")}


def gm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL,
    )


def succeeds(env: dict[str, str], *args: str) -> str:
    """Run `gong-meetings ARGS`; it must exit 0 and write nothing on stderr. Its stdout."""
    done = gm(env, *args)
    assert (done.returncode, done.stderr) == (0, ""), (args, done.returncode, done.stderr)
    return done.stdout


def lines(env: dict[str, str], *args: str) -> list[str]:
    out = succeeds(env, *args)
    assert out.endswith("\n"), out
    return out.splitlines()


def fails(env: dict[str, str], *args: str, code: int = 1) -> str:
    """Run `gong-meetings ARGS`; it must exit `code` with exactly one `error: ` line on stderr,
    nothing on stdout, and no traceback. That line, without its newline."""
    done = gm(env, *args)
    assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    assert done.stdout == "", done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.endswith("\n") and done.stderr.count("\n") == 1, done.stderr
    line = done.stderr[:-1]
    assert line.startswith("error: ") and line.strip() == line, line
    return line


# --- the live server -------------------------------------------------------------------------


@dataclass
class Live:
    server: Server
    http: httpx.Client  # authenticated as workspace `cli`
    key: tuple[str, str]
    paging_key: tuple[str, str]
    token: str  # every scope, workspace `cli`
    read_token: str  # read only, workspace `cli`

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def env(self, key: tuple[str, str] | None = None) -> dict[str, str]:
        """URL and Basic credentials in the environment, as a user would export them."""
        access_key, secret = key or self.key
        return {
            **bare_env(),
            "GONG_MEETINGS_BASE_URL": self.base_url,
            "GONG_ACCESS_KEY": access_key,
            "GONG_ACCESS_KEY_SECRET": secret,
        }

    def create(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "title": "Held meeting",
            "scheduledStart": "2030-06-01T09:00:00Z",
            "scheduledEnd": "2030-06-01T10:00:00Z",
            "organizerEmail": ORGANIZER,
            **overrides,
        }
        response = self.http.post("/v2/meetings", json=body)
        assert response.status_code == 201, response.text
        meeting: dict[str, Any] = response.json()["meeting"]
        return meeting

    def held(self, meeting_id: str) -> tuple[dict[str, Any], str]:
        """The meeting as the server holds it, and its ETag."""
        response = self.http.get(f"/v2/meetings/{meeting_id}")
        assert response.status_code == 200, response.text
        return response.json()["meeting"], response.headers["etag"]

    def status_of(self, meeting_id: str) -> int:
        return self.http.get(f"/v2/meetings/{meeting_id}").status_code

    def access_log(self) -> list[dict[str, Any]]:
        """The server's JSON access-log entries so far (only whole lines: the last may still
        be being written)."""
        entries = []
        for line in self.server.stderr().split("\n")[:-1]:
            if line.startswith("{"):
                entry = json.loads(line)
                if entry["logger"] == "gong_meetings.access":
                    entries.append(entry)
        return entries

    def access_count(self, **fields: Any) -> int:
        """How many access-log entries have all of `fields`."""
        return sum(
            all(entry.get(name) == value for name, value in fields.items())
            for entry in self.access_log()
        )

    def wait_for_access(self, count: int = 1, **fields: Any) -> int:
        """Until the access log has `count` entries with all of `fields`; how many it has."""
        deadline = time.monotonic() + LOG_DEADLINE_SECONDS
        while (found := self.access_count(**fields)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert found >= count, (fields, self.server.stderr()[-2000:])
        return found

    def server_error(self, env: dict[str, str], *args: str, status: int) -> str:
        """Run a command that the server refuses with `status`: one error line naming the
        status, the server's messages and a request id the server logged with that status.
        The messages."""
        line = fails(env, *args)
        found = ERROR_LINE.fullmatch(line)
        assert found, line
        assert int(found["status"]) == status, line
        self.wait_for_access(requestId=found["id"], status=status)
        return found["messages"]


def key_of(env: dict[str, str], workspace: str) -> tuple[str, str]:
    created = json.loads(admin(env, "keys", "create", "--workspace", workspace, "--json"))
    return created["accessKey"], created["accessKeySecret"]


def token_of(env: dict[str, str], *scopes: str) -> str:
    args = [arg for scope in scopes for arg in ("--scope", scope)]
    issued = json.loads(admin(env, "tokens", "issue", "--workspace", WORKSPACE, *args, "--json"))
    token: str = issued["accessToken"]
    return token


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("cli_client")
    work = root / "work"
    work.mkdir()
    env = server_env(f"sqlite:///{work}/gong-meetings.db")
    env["GONG_MEETINGS_LOG_FORMAT"] = "json"
    admin(env, "workspaces", "create", WORKSPACE, *ROOMY_LIMITS)
    admin(env, "workspaces", "create", PAGING, *ROOMY_LIMITS, "--auto-provision-users")
    for email in (ORGANIZER, ALICE, BOB):
        admin(env, "users", "add", email, "--workspace", WORKSPACE)
    admin(env, "integrations", "set", ALICE, "Zoom", "Active", "--workspace", WORKSPACE)
    admin(env, "integrations", "set", ALICE, "Google Meet", "Inactive", "--workspace", WORKSPACE)
    admin(
        env,
        *("integrations", "set", BOB, "Webex", "Error", "--workspace", WORKSPACE),
        *("--details", "token expired; reconnect Webex"),
    )
    key = key_of(env, WORKSPACE)
    paging_key = key_of(env, PAGING)
    token, read_token = token_of(env), token_of(env, READ_SCOPE)
    with (
        running_server(work, env, root / "logs") as server,
        httpx.Client(base_url=server.base_url, auth=key, timeout=20.0) as http,
    ):
        yield Live(server, http, key, paging_key, token, read_token)


# --- create ----------------------------------------------------------------------------------


def test_create_json_is_the_meeting_the_server_holds(live: Live) -> None:
    out = succeeds(
        live.env(),
        *("meetings", "create", "--json"),
        *("--title", "Design review"),
        *("--scheduled-start", "2030-03-04T11:00:00+02:00"),
        *("--scheduled-end", "2030-03-04T09:45:00Z"),
        *("--organizer-email", ORGANIZER),
        *("--meeting-url", "https://meet.example.com/design?room=7"),
        *("--description", "Agenda: the new API"),
        *("--attendee", ALICE),
        *("--attendee", "carol@guest.test:Carol Q. Guest"),
        *("--attendee", "dan@guest.test:Dan: the Man"),
        *("--meeting-provider", "Microsoft Teams"),
        *("--external-meeting-id", "teams-42"),
    )
    assert out.count("\n") == 1
    printed = json.loads(out)
    held, _ = live.held(printed["id"])
    assert printed == held
    assert printed == {
        "id": printed["id"],
        "title": "Design review",
        "scheduledStart": "2030-03-04T09:00:00Z",
        "scheduledEnd": "2030-03-04T09:45:00Z",
        "organizerEmail": ORGANIZER,
        "meetingUrl": "https://meet.example.com/design?room=7",
        "attendees": [
            {"emailAddress": ALICE},
            {"emailAddress": "carol@guest.test", "name": "Carol Q. Guest"},
            {"emailAddress": "dan@guest.test", "name": "Dan: the Man"},
        ],
        "description": "Agenda: the new API",
        "meetingProvider": "Microsoft Teams",
        "externalMeetingId": "teams-42",
    }


def test_create_prints_one_line_per_field_and_per_attendee(live: Live) -> None:
    printed = lines(
        live.env(),
        *("meetings", "create", "--title", "Standup"),
        *("--scheduled-start", "2030-03-05T09:00:00Z", "--scheduled-end", "2030-03-05T09:15Z"),
        *("--organizer-email", ORGANIZER),
        *("--attendee", f"{BOB}:Bob Builder", "--attendee", ALICE),
    )
    meeting_id = printed[0].removeprefix("id:").strip()
    held, _ = live.held(meeting_id)
    assert printed == [
        f"id:                 {meeting_id}",
        "title:              Standup",
        "scheduledStart:     2030-03-05T09:00:00Z",
        "scheduledEnd:       2030-03-05T09:15:00Z",
        f"organizerEmail:     {ORGANIZER}",
        f"meetingUrl:         {held['meetingUrl']}",
        f"attendees:          {BOB} Bob Builder",
        f"attendees:          {ALICE}",
    ]
    assert held["meetingUrl"] == f"{live.base_url}/join/{meeting_id}"
    assert held["attendees"] == [
        {"emailAddress": BOB, "name": "Bob Builder"},
        {"emailAddress": ALICE},
    ]
    assert (held["title"], held["scheduledEnd"]) == ("Standup", "2030-03-05T09:15:00Z")


def test_create_with_an_idempotency_key_makes_one_meeting(live: Live) -> None:
    args = (
        *("meetings", "create", "--json", "--title", "Once only"),
        *("--scheduled-start", "2030-03-06T09:00:00Z", "--scheduled-end", "2030-03-06T10:00:00Z"),
        *("--organizer-email", ORGANIZER, "--idempotency-key", "cli-test-once-only"),
    )
    first = json.loads(succeeds(live.env(), *args))
    again = json.loads(succeeds(live.env(), *args))
    assert again == first
    assert live.held(first["id"])[0] == first
    different = [("Once only, changed" if arg == "Once only" else arg) for arg in args]
    messages = live.server_error(live.env(), *different, status=409)
    assert "Idempotency-Key" in messages


# --- get -------------------------------------------------------------------------------------


def test_get_prints_the_meeting_as_json_and_as_fields(live: Live) -> None:
    made = live.create(
        title="Pipeline review",
        scheduledStart="2030-04-01T14:00:00Z",
        scheduledEnd="2030-04-01T15:30:00Z",
        attendees=[{"emailAddress": ALICE, "name": "Alice"}],
        description="Q2",
        meetingProvider="Zoom",
    )
    held, _ = live.held(made["id"])
    assert json.loads(succeeds(live.env(), "meetings", "get", made["id"], "--json")) == held
    assert lines(live.env(), "meetings", "get", made["id"]) == [
        f"id:                 {made['id']}",
        "title:              Pipeline review",
        "scheduledStart:     2030-04-01T14:00:00Z",
        "scheduledEnd:       2030-04-01T15:30:00Z",
        f"organizerEmail:     {ORGANIZER}",
        f"meetingUrl:         {held['meetingUrl']}",
        "description:        Q2",
        "meetingProvider:    Zoom",
        f"attendees:          {ALICE} Alice",
    ]


# --- update ----------------------------------------------------------------------------------


def test_update_changes_the_fields_given_and_replaces_the_attendees(live: Live) -> None:
    made = live.create(
        title="Before",
        description="kept",
        meetingUrl="https://meet.example.com/kept",
        attendees=[{"emailAddress": ALICE}, {"emailAddress": BOB, "name": "Bob"}],
    )
    printed = json.loads(
        succeeds(
            live.env(),
            *("meetings", "update", made["id"], "--json", "--title", "After"),
            *("--scheduled-end", "2030-06-01T12:30:00+02:00"),
            *("--attendee", "carol@guest.test:Carol", "--attendee", "dan@guest.test"),
        )
    )
    held, etag = live.held(made["id"])
    assert printed == held
    assert held == {
        **made,
        "title": "After",
        "scheduledEnd": "2030-06-01T10:30:00Z",
        "attendees": [
            {"emailAddress": "carol@guest.test", "name": "Carol"},
            {"emailAddress": "dan@guest.test"},
        ],
    }
    assert etag == '"2"'

    assert lines(live.env(), "meetings", "update", made["id"], "--description", "changed") == [
        f"id:                 {made['id']}",
        "title:              After",
        "scheduledStart:     2030-06-01T09:00:00Z",
        "scheduledEnd:       2030-06-01T10:30:00Z",
        f"organizerEmail:     {ORGANIZER}",
        "meetingUrl:         https://meet.example.com/kept",
        "description:        changed",
        "attendees:          carol@guest.test Carol",
        "attendees:          dan@guest.test",
    ]
    assert live.held(made["id"])[0]["attendees"] == held["attendees"]


def test_update_with_a_stale_if_match_is_refused_with_412(live: Live) -> None:
    made = live.create(title="Contended")
    _, etag = live.held(made["id"])
    assert etag == '"1"'
    messages = live.server_error(
        live.env(),
        *("meetings", "update", made["id"], "--title", "Lost update", "--if-match", '"7"'),
        status=412,
    )
    assert "If-Match" in messages or "version" in messages, messages
    assert live.held(made["id"]) == (made, '"1"')

    out = succeeds(
        live.env(), "meetings", "update", made["id"], "--title", "Won", "--if-match", etag, "--json"
    )
    assert json.loads(out)["title"] == "Won"
    assert live.held(made["id"]) == ({**made, "title": "Won"}, '"2"')


# --- delete ----------------------------------------------------------------------------------


def test_delete_then_get_is_404_with_a_request_id(live: Live) -> None:
    made = live.create(title="Doomed")
    assert (
        succeeds(live.env(), "meetings", "delete", made["id"]) == f"deleted meeting {made['id']}\n"
    )
    assert live.status_of(made["id"]) == 404
    messages = live.server_error(live.env(), "meetings", "get", made["id"], status=404)
    assert "meetingId" in messages, messages
    live.server_error(live.env(), "meetings", "delete", made["id"], "--json", status=404)


def test_delete_json_and_if_match(live: Live) -> None:
    made = live.create(title="Guarded")
    live.server_error(live.env(), "meetings", "delete", made["id"], "--if-match", '"5"', status=412)
    assert live.status_of(made["id"]) == 200
    out = succeeds(live.env(), "meetings", "delete", made["id"], "--if-match", '"1"', "--json")
    assert json.loads(out) == {"deleted": made["id"]}
    assert out.count("\n") == 1
    assert live.status_of(made["id"]) == 404


# --- list ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paged(live: Live) -> list[dict[str, Any]]:
    """Fifteen meetings in workspace `paging`, made out of order; returned in start order.

    Meeting i starts at 2031-02-01T08:00Z + i hours; CARLA organizes every third, DMITRI the
    rest; ERIN attends the even ones."""
    made: dict[int, dict[str, Any]] = {}
    with httpx.Client(base_url=live.base_url, auth=live.paging_key, timeout=20.0) as http:
        for i in (i * 7 % PAGED for i in range(PAGED)):
            body = {
                "title": f"Paged meeting {i:02d}",
                "scheduledStart": f"2031-02-01T{8 + i:02d}:00:00Z",
                "scheduledEnd": f"2031-02-01T{8 + i:02d}:30:00Z",
                "organizerEmail": CARLA if i % 3 == 0 else DMITRI,
                "attendees": [{"emailAddress": ERIN, "name": "Erin"}] if i % 2 == 0 else [],
            }
            response = http.post("/v2/meetings", json=body)
            assert response.status_code == 201, response.text
            made[i] = response.json()["meeting"]
    assert sorted(made) == list(range(PAGED))
    return [made[i] for i in range(PAGED)]


def row(meeting: dict[str, Any]) -> str:
    return "\t".join(
        (meeting["id"], meeting["scheduledStart"], meeting["organizerEmail"], meeting["title"])
    )


def test_list_follows_every_page(live: Live, paged: list[dict[str, Any]]) -> None:
    env = live.env(live.paging_key)
    page_requests = {"method": "GET", "route": "/v2/meetings", "status": 200}
    before = live.access_count(**page_requests)
    printed = lines(env, "meetings", "list", "--page-size", "4")
    assert printed == [row(m) for m in paged]
    assert printed[0] == f"{paged[0]['id']}\t2031-02-01T08:00:00Z\t{CARLA}\tPaged meeting 00"
    # 15 meetings, 4 a page: four requests, the last one for three meetings.
    assert live.wait_for_access(before + 4, **page_requests) == before + 4

    listed = json.loads(succeeds(env, "meetings", "list", "--page-size", "4", "--json"))
    assert listed == paged
    assert len({m["id"] for m in listed}) == PAGED


def test_list_filters(live: Live, paged: list[dict[str, Any]]) -> None:
    env = live.env(live.paging_key)
    by_carla = lines(env, "meetings", "list", "--organizer-email", CARLA)
    assert by_carla == [row(paged[i]) for i in (0, 3, 6, 9, 12)]

    with_erin = json.loads(succeeds(env, "meetings", "list", "--attendee-email", ERIN, "--json"))
    assert with_erin == [paged[i] for i in range(0, PAGED, 2)]

    # From meeting 3's start (given at +01:00) up to, not including, meeting 9's start.
    window = (
        "--from-date-time",
        "2031-02-01T12:00:00+01:00",
        "--to-date-time",
        "2031-02-01T17:00Z",
    )
    assert lines(env, "meetings", "list", *window, "--page-size", "2") == [
        row(paged[i]) for i in range(3, 9)
    ]
    assert lines(env, "meetings", "list", *window, "--organizer-email", CARLA) == [
        row(paged[3]),
        row(paged[6]),
    ]
    assert succeeds(env, "meetings", "list", "--organizer-email", "nobody@paging.test") == ""
    assert (
        succeeds(env, "meetings", "list", "--attendee-email", "nobody@x.test", "--json") == "[]\n"
    )


# --- integration-status ----------------------------------------------------------------------


def server_status(live: Live, **body: str) -> dict[str, Any]:
    response = live.http.post("/v2/meetings/integration-status", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def without_request_id(answer: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(answer.pop("requestId"), str)
    return answer


def test_integration_status_of_a_user(live: Live) -> None:
    # Alice has Zoom active and Google Meet inactive: the healthiest is reported.
    assert lines(live.env(), "integration-status", "--user-email", ALICE) == [
        "isIntegrated: true",
        "status:       Active",
        "provider:     Zoom",
        f"details:      {ALICE} has Zoom active",
    ]
    printed = json.loads(
        succeeds(live.env(), "integration-status", "--user-email", ALICE, "--json")
    )
    assert without_request_id(printed) == without_request_id(server_status(live, userEmail=ALICE))
    assert printed["provider"] == "Zoom"
    # No provider line when the server names none.
    assert lines(live.env(), "integration-status", "--user-email", "nobody@cli.test") == [
        "isIntegrated: false",
        "status:       Inactive",
        "details:      nobody@cli.test is not a user of this workspace",
    ]


def test_integration_status_of_a_provider_and_of_a_users_provider(live: Live) -> None:
    printed = json.loads(
        succeeds(live.env(), "integration-status", "--meeting-provider", "Webex", "--json")
    )
    assert printed == {
        "requestId": printed["requestId"],
        "isIntegrated": False,
        "status": "Error",
        "details": "Webex is connected in this workspace but in error",
        "provider": "Webex",
    }
    assert without_request_id(printed) == without_request_id(
        server_status(live, meetingProvider="Webex")
    )

    assert lines(
        live.env(),
        *("integration-status", "--user-email", ALICE, "--meeting-provider", "Google Meet"),
    ) == [
        "isIntegrated: false",
        "status:       Inactive",
        "provider:     Google Meet",
        f"details:      {ALICE} has Google Meet inactive",
    ]
    assert lines(
        live.env(), "integration-status", "--user-email", BOB, "--meeting-provider", "Webex"
    ) == [
        "isIntegrated: false",
        "status:       Error",
        "provider:     Webex",
        "details:      token expired; reconnect Webex",
    ]


def test_integration_status_without_a_question_is_a_400(live: Live) -> None:
    messages = live.server_error(live.env(), "integration-status", status=400)
    assert "userEmail" in messages and "meetingProvider" in messages, messages


# --- credentials -----------------------------------------------------------------------------


def test_url_and_key_as_options_instead_of_the_environment(live: Live) -> None:
    access_key, secret = live.key
    connection = (
        "--base-url",
        live.base_url,
        "--access-key",
        access_key,
        "--access-key-secret",
        secret,
    )
    printed = json.loads(
        succeeds(
            bare_env(),
            *("meetings", "create", "--json", "--title", "Options only"),
            *(
                "--scheduled-start",
                "2030-05-01T09:00:00Z",
                "--scheduled-end",
                "2030-05-01T09:30:00Z",
            ),
            *("--organizer-email", ORGANIZER, *connection),
        )
    )
    assert live.held(printed["id"])[0] == printed
    shown = lines(bare_env(), "meetings", "get", printed["id"], *connection)
    assert shown[:2] == [f"id:                 {printed['id']}", "title:              Options only"]


def test_bearer_token_as_option_and_from_the_environment(live: Live) -> None:
    made = live.create(title="Seen with a token")
    held, _ = live.held(made["id"])
    by_option = succeeds(
        bare_env(),
        *("meetings", "get", made["id"], "--json"),
        *("--base-url", live.base_url, "--bearer-token", live.token),
    )
    assert json.loads(by_option) == held
    env = {**bare_env(), "GONG_MEETINGS_BASE_URL": live.base_url, "GONG_BEARER_TOKEN": live.token}
    assert json.loads(succeeds(env, "meetings", "get", made["id"], "--json")) == held
    assert lines(env, "integration-status", "--meeting-provider", "Zoom")[:2] == [
        "isIntegrated: true",
        "status:       Active",
    ]


def test_a_bearer_token_without_the_scope_is_a_403(live: Live) -> None:
    env = {
        **bare_env(),
        "GONG_MEETINGS_BASE_URL": live.base_url,
        "GONG_BEARER_TOKEN": live.read_token,
    }
    messages = live.server_error(
        env,
        *("meetings", "create", "--title", "Not allowed", "--organizer-email", ORGANIZER),
        *("--scheduled-start", "2030-05-02T09:00:00Z", "--scheduled-end", "2030-05-02T09:30:00Z"),
        status=403,
    )
    assert "api:meetings:user:create" in messages, messages


def test_a_bearer_token_given_as_an_option_wins_over_keys_in_the_environment(live: Live) -> None:
    """What a command line says overrides what the environment says: with stale keys still
    exported, `--bearer-token` must be the credential sent."""
    made = live.create(title="Token over stale keys")
    env = {
        **bare_env(),
        "GONG_MEETINGS_BASE_URL": live.base_url,
        "GONG_ACCESS_KEY": "STALEKEY",
        "GONG_ACCESS_KEY_SECRET": "stale-secret",
    }
    out = succeeds(env, "meetings", "get", made["id"], "--json", "--bearer-token", live.token)
    assert json.loads(out)["title"] == "Token over stale keys"


def test_wrong_or_missing_credentials_are_a_401(live: Live) -> None:
    wrong = {**live.env(), "GONG_ACCESS_KEY_SECRET": "not-the-secret"}
    messages = live.server_error(wrong, "meetings", "list", status=401)
    assert "credentials" in messages, messages
    nothing = {**bare_env(), "GONG_MEETINGS_BASE_URL": live.base_url}
    live.server_error(nothing, "integration-status", "--user-email", ALICE, status=401)


# --- bad input -------------------------------------------------------------------------------


def test_end_before_start_is_the_servers_400_naming_scheduled_end(live: Live) -> None:
    messages = live.server_error(
        live.env(),
        *("meetings", "create", "--title", "Backwards", "--organizer-email", ORGANIZER),
        *("--scheduled-start", "2030-05-03T10:00:00Z", "--scheduled-end", "2030-05-03T09:00:00Z"),
        status=400,
    )
    assert messages == "scheduledEnd: must be after scheduledStart"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(
            (
                *("meetings", "create", "--title", "T", "--organizer-email", ORGANIZER),
                *("--scheduled-start", "2030-05-03T10:00:00", "--scheduled-end", "2030-05-03T11Z"),
            ),
            ("--scheduled-start", "2030-05-03T10:00:00", "offset"),
            id="naive-start",
        ),
        pytest.param(
            ("meetings", "update", "123", "--scheduled-end", "next tuesday"),
            ("--scheduled-end", "next tuesday", "ISO 8601"),
            id="not-a-date-time",
        ),
        pytest.param(
            ("meetings", "list", "--from-date-time", "2031-02-01T08:00:00"),
            ("--from-date-time", "offset"),
            id="naive-list-filter",
        ),
        pytest.param(("meetings", "list", "--page-size", "0"), ("--page-size",), id="page-size-0"),
        pytest.param(
            ("meetings", "create", "--scheduled-start", "2030-05-03T10:00:00Z"),
            ("--title",),
            id="missing-required",
        ),
    ],
)
def test_usage_errors_are_one_line_exit_2_and_send_nothing(
    live: Live, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    before = len(live.access_log())
    line = fails(live.env(), *args, code=2)
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    time.sleep(0.1)
    assert len(live.access_log()) == before


@pytest.mark.parametrize(
    "args",
    [("meetings", "list"), ("integration-status", "--user-email", ALICE), ("meetings", "get", "1")],
)
def test_no_base_url_is_a_usage_error(live: Live, args: tuple[str, ...]) -> None:
    access_key, secret = live.key
    env = {**bare_env(), "GONG_ACCESS_KEY": access_key, "GONG_ACCESS_KEY_SECRET": secret}
    line = fails(env, *args, code=2)
    assert "--base-url" in line and "GONG_MEETINGS_BASE_URL" in line, line


# --- servers that are not a gong-meetings server ---------------------------------------------


def test_no_server_listening_is_one_line(live: Live) -> None:
    env = {**live.env(), "GONG_MEETINGS_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    line = fails(env, "meetings", "get", "1")
    assert "could not reach the server" in line, line


class _NotGong(BaseHTTPRequestHandler):
    """Answers under /html-ok/ with 200 and an HTML page; everything else with http.server's
    multi-line HTML 404 page."""

    def do_GET(self) -> None:
        if self.path.startswith("/html-ok/"):
            body = b"<html>\n<body>Welcome</body>\n</html>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def not_gong() -> Iterator[str]:
    """The base URL of a plain HTTP server that is not gong-meetings."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotGong)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_html_error_page_is_still_one_error_line(live: Live, not_gong: str) -> None:
    env = {**live.env(), "GONG_MEETINGS_BASE_URL": not_gong}
    line = fails(env, "meetings", "get", "1")
    assert line.startswith("error: 404: "), line


def test_a_success_that_is_not_json_is_one_error_line(live: Live, not_gong: str) -> None:
    env = {**live.env(), "GONG_MEETINGS_BASE_URL": f"{not_gong}/html-ok"}
    fails(env, "meetings", "get", "1")


def test_paths_are_built_under_the_base_url(live: Live) -> None:
    """A trailing slash on --base-url changes nothing."""
    made = live.create(title="Slash")
    out = succeeds(
        live.env(), "meetings", "get", made["id"], "--json", "--base-url", f"{live.base_url}/"
    )
    assert json.loads(out) == live.held(made["id"])[0]
