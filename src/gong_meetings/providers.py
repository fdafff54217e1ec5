"""Meeting providers: canonical names, the aliases clients use, and the pattern that admits them."""

import re

ZOOM = "Zoom"
GOOGLE_MEET = "Google Meet"
MICROSOFT_TEAMS = "Microsoft Teams"
WEBEX = "Webex"
SUPPORTED_PROVIDERS = (ZOOM, GOOGLE_MEET, MICROSOFT_TEAMS, WEBEX)

_ALIASES = {
    "zoom": ZOOM,
    "google meet": GOOGLE_MEET,
    "googlemeet": GOOGLE_MEET,
    "meet": GOOGLE_MEET,
    "microsoft teams": MICROSOFT_TEAMS,
    "teams": MICROSOFT_TEAMS,
    "msteams": MICROSOFT_TEAMS,
    "ms teams": MICROSOFT_TEAMS,
    "webex": WEBEX,
    "cisco webex": WEBEX,
}
# Words of a name may be separated by any run of spaces, underscores or hyphens.
_SEPARATORS = re.compile(r"[ _-]+")


def _case_insensitive(alias: str) -> str:
    return "".join("[ _-]+" if ch == " " else f"[{ch.upper()}{ch}]" for ch in alias)


# Written out letter by letter because JSON Schema patterns have no case-insensitive flag: the
# served contract states exactly this pattern, so clients and fuzzers know what is accepted.
PROVIDER_PATTERN = "^(?:" + "|".join(_case_insensitive(a) for a in sorted(_ALIASES)) + ")$"


def canonical_provider(name: str) -> str | None:
    """The canonical name for `name`, matched case-insensitively with aliases; None if unknown."""
    return _ALIASES.get(_SEPARATORS.sub(" ", name.lower()))


UNKNOWN_PROVIDER = (
    f"unknown meeting provider; supported providers are {', '.join(SUPPORTED_PROVIDERS)}"
    " (case-insensitive; aliases: zoom, google_meet, meet, teams, msteams, webex)"
)
