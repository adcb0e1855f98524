"""Liveness and readiness."""

from __future__ import annotations

import httpx


async def test_healthz(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_checks_postgres_and_redis(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


async def test_unknown_route_is_404_in_the_error_shape(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == 20404
