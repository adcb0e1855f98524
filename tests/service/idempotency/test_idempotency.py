"""Idempotency-Key on POST /v1/Messages: replay, mismatch, in flight, concurrent duplicates."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from service.idempotency import store
from tests.support.clock import TestClock
from tests.support.tenants import Tenant

BODY: dict[str, Any] = {
    "to": [{"address": "+15558675310", "channel": "PHONE"}],
    "content": {"text": "hi"},
    "from": {"address": "+15017122661", "channel": "SMS"},
}


async def post(client: httpx.AsyncClient, key: str, body: dict[str, Any] = BODY) -> httpx.Response:
    return await client.post(
        "/v1/Messages",
        content=json.dumps(body),
        headers={"Idempotency-Key": key, "content-type": "application/json"},
    )


async def operations_of(pool: asyncpg.Pool, tenant: Tenant) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM operations WHERE account_sid = $1", tenant.account_sid
    )
    return count


async def test_a_repeat_replays_the_first_answer(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    first = await post(client, "order-1")
    again = await post(client, "order-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["location"] == first.headers["location"]
    assert await operations_of(pool, tenant) == 1


async def test_the_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    assert (await post(client, "order-2")).status_code == 202
    other = await post(client, "order-2", {**BODY, "tags": {"a": "b"}})
    assert other.status_code == 422
    assert other.json()["errors"][0]["code"] == 90422
    assert await operations_of(pool, tenant) == 1


async def test_a_repeat_while_the_first_is_in_flight_is_409(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, clock: TestClock
) -> None:
    from service.idempotency.logic import request_digest

    raw = json.dumps(BODY).encode()
    assert await store.claim_key(pool, tenant.account_sid, "order-3", request_digest(raw), clock())
    response = await post(client, "order-3")
    assert response.status_code == 409
    assert response.headers["retry-after"] == "1"
    assert await operations_of(pool, tenant) == 0


async def test_concurrent_duplicates_create_exactly_one_operation(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    responses = await asyncio.gather(*(post(client, "order-4") for _ in range(12)))
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {202, 409}
    accepted = {r.json()["operationId"] for r in responses if r.status_code == 202}
    assert len(accepted) == 1
    assert await operations_of(pool, tenant) == 1


async def test_a_failed_first_request_frees_the_key(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    bad = {**BODY, "to": [{"address": "nope", "channel": "PHONE"}]}
    assert (await post(client, "order-5", bad)).status_code == 400
    assert await store.get_key(pool, tenant.account_sid, "order-5") is None
    assert (await post(client, "order-5")).status_code == 202


async def test_keys_expire_after_24_hours(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, clock: TestClock
) -> None:
    first = await post(client, "order-6")
    clock.pinned = clock() + timedelta(hours=24, seconds=1)
    try:
        later = await post(client, "order-6")
    finally:
        clock.pinned = None
    assert later.status_code == 202
    assert later.json()["operationId"] != first.json()["operationId"]
    assert "idempotent-replayed" not in later.headers


async def test_overlong_key_is_400(client: httpx.AsyncClient) -> None:
    response = await post(client, "k" * 256)
    assert response.status_code == 400
    assert response.json()["errors"][0]["context"] == "$.headers.Idempotency-Key"
