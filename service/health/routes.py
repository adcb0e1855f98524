"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from schemas.health import Health
from service.health import workers
from service.openapi import examples
from service.state import AppState


@get(
    "/healthz",
    tags=["Health"],
    operation_id="Healthz",
    summary="The process is alive",
    description="Answers as long as the process serves requests; checks nothing else.",
    response_description="Alive.",
)
async def healthz() -> Health:
    return Health(status="ok")


@get(
    "/readyz",
    tags=["Health"],
    operation_id="Readyz",
    summary="PostgreSQL and Redis answer",
    description="Ready when PostgreSQL and Redis each answer within 2 s; the checks say which.",
    responses={
        200: ResponseSpec(
            data_container=Health,
            generate_examples=False,
            description="Ready.",
            examples=[Example(id="example", value=examples.READY)],
        ),
        503: ResponseSpec(
            data_container=Health,
            generate_examples=False,
            description="Not ready: the checks say which backing service is unavailable "
            "(with Retry-After). A readiness answer, not an API error body.",
            examples=[Example(id="example", value=examples.NOT_READY)],
        ),
    },
)
async def readyz(comms: NamedDependency[AppState]) -> Response[Health]:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2):
            await comms.pool.fetchval("SELECT 1")
        checks["postgres"] = "ok"
    except (OSError, TimeoutError, Exception) as exc:
        checks["postgres"] = f"unavailable: {type(exc).__name__}"
    try:
        async with asyncio.timeout(2):
            await comms.redis.ping()
        checks["redis"] = "ok"
    except (OSError, TimeoutError, Exception) as exc:
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    # Workers do not make the API unready (it accepts sends without them), only degraded.
    alive: list[str] | None = None
    if checks["redis"] == "ok":
        try:
            async with asyncio.timeout(2):
                alive = await workers.alive(comms.redis)
        except (OSError, TimeoutError, Exception):
            alive = None
    checks["workers"] = "unknown" if alive is None else f"{len(alive) or 'none'} alive"
    status = "unavailable" if not ready else ("ok" if alive else "degraded")
    return Response(
        Health(status=status, checks=checks),
        status_code=200 if ready else 503,
        headers={} if ready else {"Retry-After": "1"},
    )
