"""Liveness and readiness."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from service.health import workers


async def test_healthz(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_checks_postgres_and_redis_and_counts_workers(
    anonymous: httpx.AsyncClient, redis: Redis
) -> None:
    # No worker runs: ready (sends are accepted and wait), but degraded.
    response = await anonymous.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"postgres": "ok", "redis": "ok", "workers": "none alive"},
    }
    await workers.beat(redis, "host-a:101")
    await workers.beat(redis, "host-b:202")
    response = await anonymous.get("/readyz")
    assert response.json() == {
        "status": "ok",
        "checks": {"postgres": "ok", "redis": "ok", "workers": "2 alive"},
    }
    # A worker that stopped cleanly no longer counts.
    await workers.leave(redis, "host-b:202")
    assert (await anonymous.get("/readyz")).json()["checks"]["workers"] == "1 alive"


async def test_a_worker_whose_beats_stopped_is_not_alive(redis: Redis) -> None:
    await workers.beat(redis, "host-a:101")
    now_s, _ = await redis.time()
    # Its last beat, as if made ALIVE_FOR_S ago and more.
    await redis.zadd(workers.WORKERS_KEY, {"host-a:101": now_s - workers.ALIVE_FOR_S - 1})
    await workers.beat(redis, "host-c:303")
    assert await workers.alive(redis) == ["host-c:303"]
    assert await workers.alive(redis, "host-c:") == ["host-c:303"]
    assert await workers.alive(redis, "host-a:") == []


async def test_unknown_route_is_404_in_the_error_shape(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == 20404
