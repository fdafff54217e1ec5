"""The OAuth 2.0 token endpoint: the client-credentials grant (RFC 6749 section 4.4).

It answers in OAuth's own error format (section 5.2), not the meetings envelope, so that
standard OAuth client libraries understand it.
"""

from collections.abc import Mapping
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gong_meetings.errors import RateLimited, Unauthorized
from gong_meetings.server.auth import basic_credentials, client_address
from gong_meetings.server.body import BodyLimits, read_limited
from gong_meetings.server.middleware import WORKSPACE_KEY
from gong_meetings.service.auth import REALM, Authenticator
from gong_meetings.service.ratelimits import RateLimiter
from gong_meetings.service.tokens import InvalidScope, TokenService, parse_scopes

FORM = "application/x-www-form-urlencoded"
GRANT = "client_credentials"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    def __init__(
        self,
        error: str,
        description: str,
        status_code: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error, self.description, self.status_code = error, description, status_code
        self.headers = dict(headers or {})

    def response(self) -> Response:
        headers = {**_NO_STORE, **self.headers}
        if self.status_code == 401:
            headers["WWW-Authenticate"] = f"Basic {REALM}"
        return JSONResponse(
            {"error": self.error, "error_description": self.description},
            self.status_code,
            headers=headers,
        )


async def _form(request: Request, limits: BodyLimits) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != FORM:
        raise OAuthError("invalid_request", f"the body must be sent as {FORM}")
    try:
        text = (await read_limited(request, limits)).decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not a valid form") from None
    repeated = sorted(name for name, values in fields.items() if len(values) > 1)
    if repeated:
        raise OAuthError(
            "invalid_request", f"parameters sent more than once: {', '.join(repeated)}"
        )
    return {name: values[0] for name, values in fields.items()}


def _client(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization")
    if header is None:
        credentials: tuple[str, str] | None = (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
    else:
        credentials = basic_credentials(header)
        # A client_id beside Basic may only name the same client (RFC 6749 section 3.2.1).
        named = form.get("client_id")
        if "client_secret" in form or (credentials and named and named != credentials[0]):
            raise OAuthError("invalid_request", "authenticate the client one way, not two")
    if credentials is None or not all(credentials):
        raise OAuthError("invalid_client", "client authentication failed", 401)
    return credentials


class TokenRoutes:
    def __init__(
        self,
        authenticator: Authenticator,
        limiter: RateLimiter,
        tokens: TokenService,
        body_limits: BodyLimits,
    ) -> None:
        self._authenticator = authenticator
        self._limiter = limiter
        self._tokens = tokens
        self._body_limits = body_limits

    async def token(self, request: Request) -> Response:
        """POST /oauth2/token: exchange an access key and secret for a bearer token."""
        address = client_address(request)
        try:
            try:
                await self._limiter.refuse_if_blocked(address)
            except RateLimited as error:
                # Not an RFC 6749 code (it defines none for this); clients see the 429.
                raise OAuthError("too_many_requests", str(error), 429, error.headers) from None
            form = await _form(request, self._body_limits)
            access_key, secret = _client(request, form)
            try:
                caller = await self._authenticator.verify(access_key, secret)
            except Unauthorized:
                raise OAuthError("invalid_client", "client authentication failed", 401) from None
            request.scope[WORKSPACE_KEY] = caller.workspace_name
            if "grant_type" not in form:
                raise OAuthError("invalid_request", "grant_type is required")
            if form["grant_type"] != GRANT:
                raise OAuthError("unsupported_grant_type", f"only {GRANT} is supported")
            try:
                scopes = parse_scopes([form["scope"]] if "scope" in form else None)
            except InvalidScope as error:
                raise OAuthError("invalid_scope", str(error)) from None
        except OAuthError as error:
            if error.status_code == 401:
                await self._limiter.count_failure(address)
            return error.response()
        issued = await self._tokens.issue_for_client(caller, access_key, scopes)
        return JSONResponse(
            {
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "scope": issued.scope,
            },
            headers=_NO_STORE,
        )
