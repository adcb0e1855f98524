"""Against a sandbox that refuses 30% of sends (429 with Retry-After, or 5xx), every message
still ends DELIVERED, each refused try visible as an attempt; against one that loses a quarter
of its answers, every message is sent once, found at the provider instead of sent again.
Time moves by a pinned clock."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from service import ids
from service.settings import Settings
from tests.support.clock import TestClock
from workers import settings as worker_settings
from workers.dispatch import Dispatcher
from workers.ratelimit import RateLimiter

# Every test here runs a worker: each gets a database and API of its own.
pytestmark = pytest.mark.own_stack

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


async def drain(dispatcher: Dispatcher, pool: asyncpg.Pool, operation_id: uuid.UUID) -> None:
    """Run the send path until nothing of the operation is due, moving past every backoff."""
    clock = dispatcher.clock
    assert isinstance(clock, TestClock)
    for _ in range(40):
        await dispatcher.run(operation_id)
        waiting = await pool.fetchval(
            "SELECT count(*) FROM messages WHERE operation_id = $1 AND due_at IS NOT NULL",
            operation_id,
        )
        if waiting == 0:
            return
        clock.pinned = clock() + timedelta(minutes=5)


async def wait_for_sandbox_messages(
    sandbox: httpx.AsyncClient, count: int, deadline_s: float = 60.0
) -> None:
    until = time.monotonic() + deadline_s
    while len((await sandbox.get("/sandbox/messages")).json()["messages"]) < count:
        assert time.monotonic() < until, f"the sandbox never got {count} messages"
        await asyncio.sleep(0.05)


async def test_every_message_is_delivered_through_transient_faults(
    client: httpx.AsyncClient,
    faulty_sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    redis: Redis,
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

    http = worker_settings.provider_client(settings)
    dispatcher = worker_settings.build_dispatcher(
        settings, pool, http, TestClock(TestClock()()), RateLimiter(redis)
    )
    try:
        await drain(dispatcher, pool, operation_id)
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


async def test_lost_answers_are_found_at_the_provider_not_sent_twice(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    redis: Redis,
) -> None:
    # The sandbox carries out a quarter of the creates but answers them only after 3 s; the
    # worker's client gives up after 0.5 s and cannot know whether those went. No status
    # callback comes during the test (they would tell): only asking the provider can.
    await sandbox.post(
        "/sandbox/config",
        json={"rate_lost": 0.25, "lost_answer_ms": 3000, "seed": 5, "callback_delay_ms": 600_000},
    )
    to = [f"+1555866{n:04d}" for n in range(RECIPIENTS)]
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": address, "channel": "PHONE"} for address in to],
            "content": {"text": "said once"},
            "from": {"address": "+15017122668", "channel": "SMS"},
        },
    )
    assert response.status_code == 202
    operation_id = ids.decode(ids.OPERATION, response.json()["operationId"])
    assert operation_id is not None
    impatient = msgspec.structs.replace(settings, provider_timeout_s=0.5)
    http = worker_settings.provider_client(impatient)
    dispatcher = worker_settings.build_dispatcher(
        settings, pool, http, TestClock(TestClock()()), RateLimiter(redis)
    )
    try:
        await dispatcher.run(operation_id)
        unanswered = await pool.fetchval(
            "SELECT count(*) FROM attempts WHERE operation_id = $1 AND status = 'SUBMITTING'",
            operation_id,
        )
        assert unanswered > 0, "no answer was lost: the fault injection did not apply"
        # The test's clock leaps past the look-up delay, which in real time lets every
        # request still on its way reach the provider first: wait until the sandbox has
        # carried out every create the worker made (each attempt is one; no fault here
        # refuses one) before the look-ups run.
        made = await pool.fetchval(
            "SELECT count(*) FROM attempts WHERE operation_id = $1", operation_id
        )
        await wait_for_sandbox_messages(sandbox, made)
        await drain(dispatcher, pool, operation_id)
    finally:
        await http.aclose()

    sent = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert sorted(m["to"] for m in sent) == sorted(to)  # each recipient once
    attempts = await pool.fetch(
        "SELECT status, provider_sid FROM attempts WHERE operation_id = $1", operation_id
    )
    # The lost ones were adopted with the SID the provider gave them, not tried again.
    assert len(attempts) == RECIPIENTS
    assert {a["status"] for a in attempts} == {"QUEUED"}
    assert {a["provider_sid"] for a in attempts} == {m["sid"] for m in sent}
