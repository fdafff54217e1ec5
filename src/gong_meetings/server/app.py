"""The app factory: settings in, a ready ASGI app out."""

import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gong_meetings.config import Settings
from gong_meetings.errors import ApiError
from gong_meetings.server.auth import Gate
from gong_meetings.server.body import BodyLimits
from gong_meetings.server.dispatch import INTEGRATION_STATUS, MEETINGS, ApiDispatcher
from gong_meetings.server.docs import DOCS_ASSETS_PATH, ContractRoutes, docs_assets
from gong_meetings.server.errors import api_error, http_error, server_error
from gong_meetings.server.health import HealthRoutes, MetricsRoute
from gong_meetings.server.middleware import RequestIdMiddleware
from gong_meetings.server.oauth import TokenRoutes
from gong_meetings.server.routes import MeetingRoutes
from gong_meetings.service.auth import Authenticator
from gong_meetings.service.cursors import CursorCodec
from gong_meetings.service.integrations import IntegrationService
from gong_meetings.service.meetings import MeetingService
from gong_meetings.service.ratelimits import Clock, RateLimiter
from gong_meetings.service.tokens import TokenService
from gong_meetings.storage.counters import counter_storage
from gong_meetings.storage.database import Database
from gong_meetings.storage.migrate import ensure_current
from gong_meetings.storage.secrets import server_secret


class MeetingIdConvertor(StringConvertor):
    """A path segment that is not `integration-status`, so that GET on that path is a 405
    rather than a lookup of a meeting with that id."""

    regex = "(?!integration-status$)[^/]+"


register_url_convertor("meeting_id", MeetingIdConvertor())


def create_app(
    settings: Settings | None = None, *, clock: Clock = time.time, sockets_only: bool = False
) -> ASGIApp:
    """Build the server. The schema must be current: SQLite is upgraded, others refuse.

    `clock` is what rate-limit windows are measured by; tests pass one they can move.
    `sockets_only`: every request comes from the server's sockets, never from a caller in this
    process, so SQLite's short reads may share a snapshot per turn of the loop (see Database).
    """
    settings = settings or Settings.from_env()
    database = Database(settings.database_url, settings.pool, reads_share_turns=sockets_only)
    ensure_current(database.engine, auto_upgrade=database.is_sqlite)
    cursor_secret = database.transaction(lambda c: server_secret(c, "list-cursors"))
    if not database.is_sqlite:
        database.engine.dispose()  # requests use the async pool; keep no idle sync connections
    authenticator = Authenticator(database, settings.auth_cache_seconds)
    limiter = RateLimiter(
        counter_storage(settings.redis_url), settings.auth_failures_per_minute, clock
    )
    body_limits = BodyLimits(settings.max_body_bytes, settings.body_timeout_seconds)
    tokens = TokenRoutes(
        authenticator, limiter, TokenService(database, settings.token_ttl_seconds), body_limits
    )
    meetings = MeetingRoutes(
        Gate(authenticator, limiter),
        MeetingService(database, settings.base_url, CursorCodec(cursor_secret)),
        IntegrationService(database),
        body_limits,
    )
    contract = ContractRoutes()
    health = HealthRoutes(database, limiter, settings.redis_url is not None)
    metrics = MetricsRoute(settings.metrics_token)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await limiter.aclose()
        await database.aclose()

    app = Starlette(
        routes=[
            Route("/v2/meetings", meetings.meetings, methods=["GET", "POST"]),
            Route("/v2/meetings/integration-status", meetings.integration_status, methods=["POST"]),
            # One route for every method, so a 405 there lists them all in `Allow`.
            Route(
                "/v2/meetings/{meetingId:meeting_id}",
                meetings.meeting,
                methods=["GET", "PUT", "DELETE"],
            ),
            Route("/oauth2/token", tokens.token, methods=["POST"]),
            Route("/openapi.json", contract.openapi, methods=["GET"]),
            Route("/healthz", health.healthz, methods=["GET"]),
            Route("/readyz", health.readyz, methods=["GET"]),
            Route("/metrics", metrics.metrics, methods=["GET"]),
            Route("/docs", contract.docs, methods=["GET"]),
            Mount(DOCS_ASSETS_PATH, docs_assets()),
        ],
        exception_handlers={
            ApiError: api_error,
            HTTPException: http_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    api = ApiDispatcher(
        {
            ("GET", MEETINGS): meetings.list_meetings,
            ("POST", MEETINGS): meetings.create_meeting,
            ("POST", INTEGRATION_STATUS): meetings.integration_status,
        },
        {
            "GET": meetings.get_meeting,
            "PUT": meetings.update_meeting,
            "DELETE": meetings.delete_meeting,
        },
    )
    served: ASGIApp = RequestIdMiddleware(app, api.answer)
    if settings.trusted_proxies:
        # uvicorn's ASGI types are narrower than Starlette's; the protocol is the same.
        served = ProxyHeadersMiddleware(served, list(settings.trusted_proxies))  # type: ignore[arg-type,assignment]
    return served


def serve_app() -> ASGIApp:
    """The app as `serve` runs it, once in each worker process, for the life of the process.

    What start-up made (modules, SQLAlchemy's metadata, the contract's types, the app: about
    100,000 objects) lives as long as the process, so it is moved out of the garbage
    collector's sight. Otherwise every full collection walks all of it, about 40 ms here, and
    under writes such collections came often enough to be the p99 of create and update
    (bench/README.md). Only here, not in create_app: an embedding program or a test suite
    makes many apps whose cycles must stay collectable.
    """
    app = create_app(sockets_only=True)
    gc.collect()  # garbage frozen now would never be freed
    gc.freeze()
    return app
