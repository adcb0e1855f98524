"""Retention deletes old operations with their messages and attempts, in bounded batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from schemas.messages import SendMessagesRequest
from service.accounts import logic as accounts
from service.messages import logic
from service.retention import logic as retention
from service.settings import Settings
from service.suppressions import store as suppression_store

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
REQUEST = msgspec.convert(
    {
        "to": [{"address": f"+1555867531{i}", "channel": "PHONE"} for i in range(3)],
        "content": {"text": "x"},
        "from": {"address": "+15017122661", "channel": "SMS"},
    },
    SendMessagesRequest,
)


async def test_only_what_is_past_retention_goes(isolated: tuple[asyncpg.Pool, Settings]) -> None:
    pool, _ = isolated
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


async def test_each_call_is_bounded(isolated: tuple[asyncpg.Pool, Settings]) -> None:
    pool, _ = isolated
    sid = (await accounts.create_account(pool, "retention")).account_sid
    for i in range(50):
        await logic.accept_send(
            pool, account_sid=sid, request=REQUEST, now=NOW - timedelta(days=9, seconds=i)
        )
    first = await retention.purge(pool, now=NOW, retention_days=7, max_batches=1)
    assert first == retention.OPERATIONS_PER_BATCH * 3
    rest = await retention.purge(pool, now=NOW, retention_days=7)
    assert first + rest == 150


async def test_unclaimed_early_receipts_are_dropped_after_a_day(
    isolated: tuple[asyncpg.Pool, Settings],
) -> None:
    pool, _ = isolated
    for sid, age in (("IMold", timedelta(days=2)), ("IMnew", timedelta(hours=1))):
        await pool.execute(
            "INSERT INTO early_receipts (provider_sid, status, received_at) VALUES ($1, $2, $3)",
            sid,
            "DELIVERED",
            NOW - age,
        )
    await retention.purge(pool, now=NOW, retention_days=7)
    kept = await pool.fetch("SELECT provider_sid FROM early_receipts")
    assert [r["provider_sid"] for r in kept] == ["IMnew"]


async def test_remembered_inbound_keyword_sids_are_dropped_after_a_day(
    isolated: tuple[asyncpg.Pool, Settings],
) -> None:
    pool, _ = isolated
    for sid, age in (("SMold", timedelta(days=2)), ("SMnew", timedelta(hours=1))):
        assert await suppression_store.note_inbound_keyword(pool, sid, NOW - age)
    await retention.purge(pool, now=NOW, retention_days=7)
    kept = await pool.fetch("SELECT message_sid FROM inbound_keywords")
    assert [r["message_sid"] for r in kept] == ["SMnew"]
