"""For operators: liveness without touching anything, readiness with the parts the server
needs, and Prometheus metrics. Health needs no credentials and shows nothing about secrets or
versions; metrics can be kept behind a bearer token."""

import hmac

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gong_meetings.errors import ServiceUnavailable, Unauthorized
from gong_meetings.metrics import exposition
from gong_meetings.service.ratelimits import RateLimiter
from gong_meetings.storage.database import Database

_NO_STORE = {"Cache-Control": "no-store"}


class HealthRoutes:
    def __init__(self, database: Database, limiter: RateLimiter, uses_redis: bool) -> None:
        self._database = database
        self._limiter = limiter
        self._uses_redis = uses_redis

    async def healthz(self, _request: Request) -> Response:
        """GET /healthz: the process is up and serving; nothing else is checked."""
        return JSONResponse({"status": "ok"}, headers=_NO_STORE)

    async def readyz(self, _request: Request) -> Response:
        """GET /readyz: 200 when the database (and Redis, if configured) answer; else 503
        naming what does not."""
        checks = {"database": "ok"}
        try:
            await self._database.ping()
        except ServiceUnavailable:
            checks["database"] = "unavailable"
        if self._uses_redis:
            checks["redis"] = "ok" if await self._limiter.counters_answer() else "unavailable"
        ready = all(state == "ok" for state in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks},
            200 if ready else 503,
            headers=_NO_STORE,
        )


class MetricsRoute:
    def __init__(self, token: str | None) -> None:
        self._expected = token.encode() if token else None

    async def metrics(self, request: Request) -> Response:
        """GET /metrics: Prometheus text; with a token configured, only for its bearer."""
        if self._expected is not None:
            scheme, _, given = request.headers.get("authorization", "").strip().partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode("latin-1"), self._expected
            ):
                raise Unauthorized(
                    "Authorization: /metrics needs the bearer token set in"
                    " GONG_MEETINGS_METRICS_TOKEN",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        return Response(exposition(), headers=_NO_STORE, media_type=CONTENT_TYPE_LATEST)
