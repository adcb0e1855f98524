"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from schemas.health import Health
from service.state import AppState


@get("/healthz", tags=["Health"], operation_id="Healthz", summary="The process is alive")
async def healthz() -> Health:
    return Health(status="ok")


@get(
    "/readyz",
    tags=["Health"],
    operation_id="Readyz",
    summary="PostgreSQL and Redis answer",
    responses={
        503: ResponseSpec(
            data_container=Health,
            generate_examples=False,
            description="Not ready: the checks say which backing service is unavailable "
            "(with Retry-After). A readiness answer, not an API error body.",
            examples=[
                Example(
                    value={
                        "status": "unavailable",
                        "checks": {"postgres": "ok", "redis": "unavailable: ConnectionError"},
                    }
                )
            ],
        )
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
    return Response(
        Health(status="ok" if ready else "unavailable", checks=checks),
        status_code=200 if ready else 503,
        headers={} if ready else {"Retry-After": "1"},
    )
