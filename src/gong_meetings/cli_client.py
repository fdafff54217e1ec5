"""`gong-meetings meetings ...` and `gong-meetings integration-status`: the API from the command
line, through the SDK, against any gong-meetings server.

Each command reads --base-url and the credentials from its options or the environment
(GONG_MEETINGS_BASE_URL, GONG_ACCESS_KEY, GONG_ACCESS_KEY_SECRET, GONG_BEARER_TOKEN), prints
JSON with --json and a readable table otherwise. Errors are the server's message on one line.
"""

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

import click
import msgspec

from gong_meetings.client.sync import Client
from gong_meetings.wire import IntegrationStatusResponse, Meeting, MeetingAttendee

F = TypeVar("F", bound=Callable[..., Any])


def _connection_options(command: F) -> F:
    """--base-url and the credentials; the client itself falls back to the environment."""

    @click.option("--base-url", help="The server, such as http://127.0.0.1:8000.")
    @click.option("--access-key", help="Access key (Basic); or GONG_ACCESS_KEY.")
    @click.option("--access-key-secret", help="Its secret; or GONG_ACCESS_KEY_SECRET.")
    @click.option("--bearer-token", help="A bearer token instead; or GONG_BEARER_TOKEN.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
    @wraps(command)
    def wrapped(
        base_url: str | None,
        access_key: str | None,
        access_key_secret: str | None,
        bearer_token: str | None,
        **options: Any,
    ) -> Any:
        try:
            client = Client(
                base_url,
                access_key=access_key,
                access_key_secret=access_key_secret,
                bearer_token=bearer_token,
            )
        except ValueError as error:
            raise click.UsageError(f"{error} (or give --base-url)") from None
        with client:
            return command(client, **options)

    return wrapped  # type: ignore[return-value]


class _Instant(click.ParamType[datetime]):
    name = "DATETIME"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date-time", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} needs an offset, such as 2030-01-15T10:00:00Z", param, ctx)
        return parsed


INSTANT = _Instant()


def _attendee(text: str) -> MeetingAttendee:
    """`EMAIL` or `EMAIL:NAME`."""
    email, colon, name = text.partition(":")
    if colon:
        return MeetingAttendee(email_address=email, name=name)
    return MeetingAttendee(email_address=email)


def _attendees(given: Iterable[str]) -> list[MeetingAttendee] | None:
    return [_attendee(text) for text in given] or None


def _print_json(value: object) -> None:
    click.echo(msgspec.json.encode(value).decode("utf-8"))


def _print_meeting(meeting: Meeting, as_json: bool) -> None:
    """The meeting as JSON, or one `field: value` line per field, in the contract's names."""
    if as_json:
        _print_json(meeting)
        return
    fields = msgspec.to_builtins(meeting)
    for attendee in fields.pop("attendees"):
        fields.setdefault("attendees", []).append(" ".join(attendee.values()))
    for name, value in fields.items():
        for line in value if isinstance(value, list) else [value]:
            click.echo(f"{name + ':':<20}{line}")


meeting_fields = [
    click.option("--meeting-url", help="Join URL; generated when not given."),
    click.option("--description", help="Description or agenda."),
    click.option(
        "--attendee",
        "attendees",
        multiple=True,
        metavar="EMAIL[:NAME]",
        help="An attendee; repeat for each. On update, replaces the list.",
    ),
]


def _with(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


@click.group()
def meetings() -> None:
    """Create, change, read and list meetings on a server (through the SDK)."""


@meetings.command("create")
@click.option("--title", required=True)
@click.option("--scheduled-start", type=INSTANT, required=True, help="RFC 3339 with an offset.")
@click.option("--scheduled-end", type=INSTANT, required=True, help="RFC 3339 with an offset.")
@click.option("--organizer-email", required=True)
@_with(meeting_fields)
@click.option("--meeting-provider", help="Zoom, Google Meet, Microsoft Teams or Webex.")
@click.option("--external-meeting-id")
@click.option("--idempotency-key", help="Makes retrying this exact create safe.")
@_connection_options
def create(client: Client, as_json: bool, attendees: tuple[str, ...], **fields: Any) -> None:
    """Create a meeting."""
    meeting = client.create_meeting(attendees=_attendees(attendees), **fields)
    _print_meeting(meeting, as_json)


@meetings.command("update")
@click.argument("meeting_id")
@click.option("--title")
@click.option("--scheduled-start", type=INSTANT, help="RFC 3339 with an offset.")
@click.option("--scheduled-end", type=INSTANT, help="RFC 3339 with an offset.")
@_with(meeting_fields)
@click.option("--if-match", help="Change it only at this ETag, such as '\"3\"'.")
@_connection_options
def update(client: Client, as_json: bool, attendees: tuple[str, ...], **fields: Any) -> None:
    """Change the fields given of meeting MEETING_ID."""
    meeting = client.update_meeting(attendees=_attendees(attendees), **fields)
    _print_meeting(meeting, as_json)


@meetings.command("delete")
@click.argument("meeting_id")
@click.option("--if-match", help="Delete it only at this ETag.")
@_connection_options
def delete(client: Client, as_json: bool, meeting_id: str, if_match: str | None) -> None:
    """Delete meeting MEETING_ID for good."""
    client.delete_meeting(meeting_id, if_match=if_match)
    if as_json:
        _print_json({"deleted": meeting_id})
    else:
        click.echo(f"deleted meeting {meeting_id}")


@meetings.command("get")
@click.argument("meeting_id")
@_connection_options
def get(client: Client, as_json: bool, meeting_id: str) -> None:
    """Show meeting MEETING_ID."""
    _print_meeting(client.get_meeting(meeting_id), as_json)


@meetings.command("list")
@click.option("--from-date-time", type=INSTANT, help="Starting at or after this.")
@click.option("--to-date-time", type=INSTANT, help="Starting before this.")
@click.option("--organizer-email")
@click.option("--attendee-email")
@click.option("--page-size", type=click.IntRange(1, 100), help="Meetings per request.")
@_connection_options
def list_(client: Client, as_json: bool, **filters: Any) -> None:
    """List meetings by start time, every page."""
    found = client.list_meetings(**filters)
    if as_json:
        _print_json(list(found))
        return
    for meeting in found:
        start = meeting.scheduled_start.isoformat().replace("+00:00", "Z")
        click.echo(f"{meeting.id}\t{start}\t{meeting.organizer_email}\t{meeting.title}")


@click.command("integration-status")
@click.option("--user-email")
@click.option("--meeting-provider")
@_connection_options
def integration_status(
    client: Client, as_json: bool, user_email: str | None, meeting_provider: str | None
) -> None:
    """Check a user's or a provider's meeting integration."""
    answer: IntegrationStatusResponse = client.validate_integration_status(
        user_email=user_email, meeting_provider=meeting_provider
    )
    if as_json:
        _print_json(answer)
        return
    provider = answer.provider if isinstance(answer.provider, str) else ""
    click.echo(f"{'isIntegrated:':<14}{str(answer.is_integrated).lower()}")
    click.echo(f"{'status:':<14}{answer.status}")
    if provider:
        click.echo(f"{'provider:':<14}{provider}")
    click.echo(f"{'details:':<14}{answer.details}")
