"""Retention deletes old operations with their messages, attempts, events and webhook
deliveries, in bounded batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import pytest

from schemas.messages import ScheduleIn, SendMessagesRequest
from service.accounts import logic as accounts
from service.callbacks import store as callbacks_store
from service.callbacks.store import Receipt
from service.messages import logic
from service.retention import logic as retention
from service.settings import Settings
from service.suppressions import store as suppression_store
from service.webhooks import delivery
from tests.support.factories import endpoint_for_every_event

# Retention deletes what is old in every account: each test gets a database of its own.
pytestmark = pytest.mark.own_stack

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
REQUEST = msgspec.convert(
    {
        "to": [{"address": f"+1555867531{i}", "channel": "PHONE"} for i in range(3)],
        "content": {"text": "x"},
        "from": {"address": "+15017122661", "channel": "SMS"},
    },
    SendMessagesRequest,
)


async def all_sent(pool: asyncpg.Pool) -> None:
    """Every message handed to the provider: none is due any more."""
    await pool.execute("UPDATE messages SET due_at = NULL")


async def test_a_send_still_waiting_to_go_is_kept_past_retention(pool: asyncpg.Pool) -> None:
    """Scheduled further ahead than retention (or still being sent): nothing of it goes until
    its messages have gone out."""
    sid = (await accounts.create_account(pool, "retention")).account_sid
    created = NOW - timedelta(days=8)
    send_at = (created + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    scheduled = msgspec.structs.replace(REQUEST, schedule=ScheduleIn(send_at=[send_at]))
    waiting, _ = await logic.accept_send(pool, account_sid=sid, request=scheduled, now=created)
    assert await retention.purge(pool, now=NOW, retention_days=7) == 0
    kept = await pool.fetchval("SELECT count(*) FROM messages WHERE operation_id = $1", waiting)
    assert kept == 3
    await all_sent(pool)
    assert await retention.purge(pool, now=NOW, retention_days=7) == 3


async def test_only_what_is_past_retention_goes(pool: asyncpg.Pool) -> None:
    sid = (await accounts.create_account(pool, "retention")).account_sid
    old = [
        (
            await logic.accept_send(
                pool, account_sid=sid, request=REQUEST, now=NOW - timedelta(days=8, minutes=i)
            )
        )[0]
        for i in range(45)
    ]
    kept, _ = await logic.accept_send(
        pool, account_sid=sid, request=REQUEST, now=NOW - timedelta(days=6)
    )
    await pool.execute(
        "INSERT INTO attempts (id, message_id, operation_id, account_sid, channel, from_address,"
        " to_address, status, attempted_at, updated_at)"
        " SELECT gen_random_uuid(), id, operation_id, account_sid, 'SMS', '+15017122661',"
        " address, 'DELIVERED', created_at, created_at FROM messages"
    )
    await all_sent(pool)
    deleted = await retention.purge(pool, now=NOW, retention_days=7)
    assert deleted == 45 * 3
    remaining = await pool.fetch("SELECT id FROM operations")
    assert [r["id"] for r in remaining] == [kept]
    assert await pool.fetchval("SELECT count(*) FROM messages") == 3
    assert await pool.fetchval("SELECT count(*) FROM attempts") == 3
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM messages WHERE operation_id = ANY($1::uuid[])", old
        )
        == 0
    )


async def test_each_call_is_bounded(pool: asyncpg.Pool) -> None:
    sid = (await accounts.create_account(pool, "retention")).account_sid
    for i in range(50):
        await logic.accept_send(
            pool, account_sid=sid, request=REQUEST, now=NOW - timedelta(days=9, seconds=i)
        )
    await all_sent(pool)
    first = await retention.purge(pool, now=NOW, retention_days=7, max_batches=1)
    assert first == retention.OPERATIONS_PER_BATCH * 3
    rest = await retention.purge(pool, now=NOW, retention_days=7)
    assert first + rest == 150


async def test_unclaimed_early_receipts_are_dropped_after_a_day(
    pool: asyncpg.Pool,
) -> None:
    for sid, age in (("IMold", timedelta(days=2)), ("IMnew", timedelta(hours=1))):
        receipt = Receipt(None, sid, "DELIVERED", None, None, NOW - age)
        assert await callbacks_store.keep_early_receipt(pool, receipt)
    await retention.purge(pool, now=NOW, retention_days=7)
    kept = await pool.fetch("SELECT provider_sid FROM early_receipts")
    assert [r["provider_sid"] for r in kept] == ["IMnew"]


async def test_remembered_inbound_keyword_sids_are_dropped_after_a_day(
    pool: asyncpg.Pool,
) -> None:
    for sid, age in (("SMold", timedelta(days=2)), ("SMnew", timedelta(hours=1))):
        assert await suppression_store.note_inbound_keyword(pool, sid, NOW - age)
    await retention.purge(pool, now=NOW, retention_days=7)
    kept = await pool.fetch("SELECT message_sid FROM inbound_keywords")
    assert [r["message_sid"] for r in kept] == ["SMnew"]


async def test_events_and_webhook_deliveries_go_with_their_operations(
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    sid = (await accounts.create_account(pool, "retention")).account_sid
    await endpoint_for_every_event(pool, sid)
    with_callback = msgspec.structs.replace(REQUEST, status_callback="https://hooks.example.com/o")
    for i in range(OPERATIONS_OLD := retention.OPERATIONS_PER_BATCH + 5):
        await logic.accept_send(
            pool, account_sid=sid, request=with_callback, now=NOW - timedelta(days=8, seconds=i)
        )
    kept, _ = await logic.accept_send(
        pool, account_sid=sid, request=with_callback, now=NOW - timedelta(days=1)
    )
    await delivery.fan_out(
        pool, base_url=settings.public_base_url, now=NOW, retry_window=timedelta(hours=24)
    )
    # 1 operation event + 3 message events per operation, each to the endpoint and the callback.
    per_operation = 4
    assert await pool.fetchval("SELECT count(*) FROM events") == per_operation * (
        OPERATIONS_OLD + 1
    )
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == (
        2 * per_operation * (OPERATIONS_OLD + 1)
    )
    await pool.execute(
        "INSERT INTO webhook_attempts (id, delivery_id, attempted_at, duration_ms)"
        " SELECT gen_random_uuid(), id, $1, 1 FROM webhook_deliveries",
        NOW,
    )

    await all_sent(pool)
    first = await retention.purge(pool, now=NOW, retention_days=7, max_batches=1)
    assert first == retention.OPERATIONS_PER_BATCH * 3, "bounded like the messages"
    assert await pool.fetchval("SELECT count(*) FROM events") == per_operation * 6
    await retention.purge(pool, now=NOW, retention_days=7)
    left = await pool.fetch("SELECT DISTINCT operation_id FROM events")
    assert [r["operation_id"] for r in left] == [kept]
    left = await pool.fetch("SELECT DISTINCT operation_id FROM webhook_deliveries")
    assert [r["operation_id"] for r in left] == [kept]
    assert await pool.fetchval("SELECT count(*) FROM webhook_attempts") == 2 * per_operation
