"""Scheduled sends with a pinned clock: instants, recipient-local times, restarts, lost Redis."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from schemas.messages import SendMessagesRequest
from service.accounts import logic as accounts
from service.messages import logic
from service.settings import Settings
from tests.support.clock import TestClock
from workers import settings as worker_settings

# Every test here runs a worker: each gets a database and API of its own.
pytestmark = pytest.mark.own_stack

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def send_request(to: list[str], send_at: str) -> SendMessagesRequest:
    return msgspec.convert(
        {
            "to": [{"address": a, "channel": "PHONE"} for a in to],
            "content": {"text": "see you"},
            "from": {"address": "+15017122661", "channel": "SMS"},
            "schedule": {"sendAt": [send_at]},
        },
        SendMessagesRequest,
    )


async def start_worker(settings: Settings, clock: TestClock, redis: Redis) -> dict[str, Any]:
    """What a (re)started worker process builds: pool, provider client, dispatcher."""
    ctx: dict[str, Any] = {"settings": settings, "clock": clock, "redis": redis}
    await worker_settings.startup(ctx)
    return ctx


async def account(pool: asyncpg.Pool) -> str:
    return (await accounts.create_account(pool, "scheduling")).account_sid


async def statuses(pool: asyncpg.Pool) -> list[tuple[str, str, datetime | None]]:
    rows = await pool.fetch("SELECT address, status, scheduled_for FROM messages ORDER BY address")
    return [(r["address"], r["status"], r["scheduled_for"]) for r in rows]


async def test_an_instant_is_sent_when_due_and_not_before(
    pool: asyncpg.Pool, settings: Settings, redis: Redis, sandbox: httpx.AsyncClient
) -> None:
    clock = TestClock(T0)
    operation_id, due_now = await logic.accept_send(
        pool,
        account_sid=await account(pool),
        request=send_request(["+15558675310"], "2026-11-28T13:00:00Z"),
        now=T0,
    )
    assert not due_now
    assert await statuses(pool) == [("+15558675310", "SCHEDULED", T0 + timedelta(hours=1))]
    ctx = await start_worker(settings, clock, redis)
    try:
        assert await worker_settings.send_due(ctx) == 0
        clock.pinned = T0 + timedelta(minutes=59, seconds=59)
        assert await worker_settings.send_due(ctx) == 0
        clock.pinned = T0 + timedelta(hours=1)
        assert await worker_settings.send_due(ctx) == 1
    finally:
        await worker_settings.shutdown(ctx)
    status = await pool.fetchval("SELECT status FROM operations WHERE id = $1", operation_id)
    assert status == "COMPLETED"
    sent = (await sandbox.get("/sandbox/messages")).json()
    assert [m["to"] for m in sent["messages"]] == ["+15558675310"]


async def test_a_local_time_applies_in_each_recipients_zone(
    pool: asyncpg.Pool,
) -> None:
    await logic.accept_send(
        pool,
        account_sid=await account(pool),
        request=send_request(
            ["+12125550100", "+14155550100", "+4915112345678", "+15558675310"],
            "2026-12-01T09:30:00",
        ),
        now=T0,
    )
    assert await statuses(pool) == [
        ("+12125550100", "SCHEDULED", datetime(2026, 12, 1, 14, 30, tzinfo=UTC)),  # New York
        ("+14155550100", "SCHEDULED", datetime(2026, 12, 1, 17, 30, tzinfo=UTC)),  # Los Angeles
        ("+15558675310", "SCHEDULED", datetime(2026, 12, 1, 9, 30, tzinfo=UTC)),  # unknown: UTC
        ("+4915112345678", "SCHEDULED", datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),  # Berlin
    ]


async def test_a_restarted_worker_with_a_flushed_redis_still_sends(
    pool: asyncpg.Pool, settings: Settings, redis: Redis, sandbox: httpx.AsyncClient
) -> None:
    clock = TestClock(T0)
    await logic.accept_send(
        pool,
        account_sid=await account(pool),
        request=send_request(["+15558675310", "+15558675311"], "2026-11-28T12:10:00Z"),
        now=T0,
    )
    first = await start_worker(settings, clock, redis)
    assert await worker_settings.send_due(first) == 0
    await worker_settings.shutdown(first)  # the worker goes away...
    await redis.flushdb()  # ...and Redis loses everything
    clock.pinned = T0 + timedelta(minutes=10)
    second = await start_worker(settings, clock, redis)
    try:
        assert await worker_settings.send_due(second) == 2
    finally:
        await worker_settings.shutdown(second)
    # Both handed over (their receipts, which reach this test's API, may have moved them on).
    assert {s for _, s, _ in await statuses(pool)} <= {"QUEUED", "SENT", "DELIVERED"}
    handed = await pool.fetchval("SELECT count(*) FROM attempts WHERE provider_sid IS NOT NULL")
    assert handed == 2
    sent = (await sandbox.get("/sandbox/messages")).json()
    assert sorted(m["to"] for m in sent["messages"]) == ["+15558675310", "+15558675311"]


async def test_a_dead_workers_claim_is_taken_over_after_its_lease(
    pool: asyncpg.Pool, settings: Settings, redis: Redis, sandbox: httpx.AsyncClient
) -> None:
    """A worker that claimed and died before calling the provider: sent once, by another."""
    from service.sending import store as dispatch_store

    clock = TestClock(T0)
    await logic.accept_send(
        pool,
        account_sid=await account(pool),
        request=send_request(["+15558675310"], "2026-11-28T12:00:00Z"),
        now=T0,
    )
    claimed = await dispatch_store.claim_due(
        pool,
        sender_key="SMS:+15017122661",
        now=T0,
        lease_until=T0 + timedelta(seconds=60),
        limit=10,
        claim=uuid.uuid4(),
    )
    assert len(claimed) == 1
    ctx = await start_worker(settings, clock, redis)
    try:
        assert await worker_settings.send_due(ctx) == 0  # leased to the dead worker
        clock.pinned = T0 + timedelta(seconds=61)
        assert await worker_settings.send_due(ctx) == 1
        assert await worker_settings.send_due(ctx) == 0
    finally:
        await worker_settings.shutdown(ctx)
    sent = (await sandbox.get("/sandbox/messages")).json()
    assert len(sent["messages"]) == 1
