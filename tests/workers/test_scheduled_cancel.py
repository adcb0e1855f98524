"""A scheduled operation can be canceled until its time; then nothing is sent."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from service.settings import Settings
from tests.support.clock import TestClock
from workers import settings as worker_settings
from workers.dispatch import Dispatcher
from workers.ratelimit import RateLimiter

# Every test here runs a worker: each gets a database and API of its own.
pytestmark = pytest.mark.own_stack


async def test_cancel_before_due_sends_nothing(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    redis: Redis,
    clock: TestClock,
) -> None:
    send_at = (clock() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sent = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": f"+1555867546{i}", "channel": "PHONE"} for i in range(3)],
            "content": {"text": "later"},
            "from": {"address": "+15017122685", "channel": "SMS"},
            "schedule": {"sendAt": [send_at]},
        },
    )
    assert sent.status_code == 202
    operation = (await client.get(sent.headers["location"])).json()
    assert operation["status"] == "SCHEDULED"
    assert operation["stats"]["scheduled"] == 3
    canceled = await client.post(f"{sent.headers['location']}/Cancel")
    assert canceled.status_code == 202, canceled.text
    operation = (await client.get(sent.headers["location"])).json()
    assert (operation["status"], operation["stats"]["canceled"]) == ("CANCELED", 3)

    worker_clock = TestClock(clock() + timedelta(hours=3))
    http = worker_settings.provider_client(settings)
    dispatcher: Dispatcher = worker_settings.build_dispatcher(
        settings, pool, http, worker_clock, RateLimiter(redis)
    )
    try:
        from service import ids

        operation_id = ids.decode(ids.OPERATION, sent.json()["operationId"])
        assert await dispatcher.run(operation_id) == 0
    finally:
        await http.aclose()
    assert (await sandbox.get("/sandbox/messages")).json()["messages"] == []
    again = await client.post(f"{sent.headers['location']}/Cancel")
    assert again.status_code == 409
