"""Meeting providers: canonical names and the aliases clients use for them."""

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
_SEPARATORS = re.compile(r"[\s_\-]+")


def canonical_provider(name: str) -> str | None:
    """The canonical name for `name`, matched case-insensitively with aliases; None if unknown."""
    return _ALIASES.get(_SEPARATORS.sub(" ", name.strip().lower()))


def unknown_provider_message(field: str, name: str) -> str:
    shown = name if len(name) <= 100 else name[:100] + "..."
    return (
        f"{field}: unknown meeting provider {shown!r};"
        f" supported providers are {', '.join(SUPPORTED_PROVIDERS)}"
    )
