"""Against a sandbox that refuses 30% of sends (429 with Retry-After, or 5xx), every message
still ends DELIVERED, each refused try visible as an attempt. Time moves by a pinned clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from service import ids
from service.settings import Settings
from tests.conftest import TestClock
from workers import settings as worker_settings
from workers.dispatch import Dispatcher
from workers.ratelimit import RateLimiter

RECIPIENTS = 60


@pytest.fixture
async def faulty_sandbox(sandbox: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    await sandbox.post(
        "/sandbox/config", json={"rate_429": 0.15, "rate_5xx": 0.15, "retry_after_s": 3, "seed": 11}
    )
    try:
        yield sandbox
    finally:
        await sandbox.post("/sandbox/config", json={"rate_429": 0, "rate_5xx": 0})


async def test_every_message_is_delivered_through_transient_faults(
    client: httpx.AsyncClient,
    faulty_sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    redis: object,
) -> None:
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": f"+1555867{n:04d}", "channel": "PHONE"} for n in range(RECIPIENTS)],
            "content": {"text": "through the storm"},
            "from": {"address": "+15017122666", "channel": "SMS"},
        },
    )
    assert response.status_code == 202
    operation_id = ids.decode(ids.OPERATION, response.json()["operationId"])
    assert operation_id is not None

    clock = TestClock(TestClock()())
    http = worker_settings.provider_client(settings)
    dispatcher: Dispatcher = worker_settings.build_dispatcher(
        settings, pool, http, clock, RateLimiter(redis)
    )  # type: ignore[arg-type]
    try:
        for _ in range(40):
            await dispatcher.run(operation_id)
            waiting = await pool.fetchval(
                "SELECT count(*) FROM messages WHERE operation_id = $1 AND due_at IS NOT NULL",
                operation_id,
            )
            if waiting == 0:
                break
            clock.pinned = clock() + timedelta(minutes=5)  # past every backoff
    finally:
        await http.aclose()
    await faulty_sandbox.post("/sandbox/drain")

    operation = (await client.get(response.headers["location"])).json()
    assert operation["status"] == "COMPLETED"
    assert operation["stats"]["delivered"] == RECIPIENTS
    rows = await pool.fetch(
        "SELECT status, error_code, provider_sid FROM attempts WHERE operation_id = $1",
        operation_id,
    )
    refused = [r for r in rows if r["provider_sid"] is None]
    assert refused, "the sandbox refused nothing: the fault injection did not apply"
    assert all(r["status"] == "FAILED" for r in refused)
    assert {r["error_code"] for r in refused} <= {20429, 500, 503, 20500, 20503}
    assert len(rows) - len(refused) == RECIPIENTS  # one accepted attempt per message
    assert operation["stats"]["attempts"] == len(rows)
    accepted = (await faulty_sandbox.get("/sandbox/messages")).json()["messages"]
    assert sorted(m["to"] for m in accepted) == sorted(
        f"+1555867{n:04d}" for n in range(RECIPIENTS)
    )
