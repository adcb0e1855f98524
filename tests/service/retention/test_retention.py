"""Retention deletes old operations with their messages, attempts, events and webhook
deliveries: whole day partitions with the operations of their day, and what is outside them
in bounded batches of rows. Maintenance makes the day partitions ahead."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import pytest

from schemas.messages import ScheduleIn, SendMessagesRequest
from service.accounts import logic as accounts
from service.callbacks import store as callbacks_store
from service.callbacks.store import Receipt
from service.messages import logic
from service.messages import store as messages_store
from service.retention import logic as retention
from service.retention import store as retention_store
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


# Day partitions ----------------------------------------------------------------------------
# Message and attempt ids (and the operation ids events are partitioned on) are UUIDv7 made
# from the wall clock; these tests make rows of chosen days with ids of those days.


def uuid7_at(at: datetime) -> uuid.UUID:
    """A UUIDv7 of the moment `at` (random bits below the millisecond)."""
    ms = int(at.timestamp() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 64) & 0xFFF) << 64 | (0b10 << 62)
    return uuid.UUID(int=value | (rand & 0x3FFF_FFFF_FFFF_FFFF))


async def send_of_day(
    pool: asyncpg.Pool,
    account_sid: str,
    at: datetime,
    *,
    due: bool = False,
    messages_at: datetime | None = None,
) -> uuid.UUID:
    """An operation accepted at `at` with 3 messages (ids of `messages_at`, `at` by default),
    sent with one attempt each and a provider sid; with `due`, its last message is still
    waiting to go (scheduled ahead)."""
    operation_id = uuid7_at(at)
    stamp = messages_at or at
    records = [
        messages_store.MessageRecord(
            id=uuid7_at(stamp + timedelta(milliseconds=position)),
            operation_id=operation_id,
            account_sid=account_sid,
            position=position,
            channel="PHONE",
            address=f"+1555867531{position}",
            variables=None,
            status="SCHEDULED" if due and position == 2 else "SENT",
            scheduled_for=None,
            due_at=NOW + timedelta(days=30) if due and position == 2 else None,
            created_at=at,
            updated_at=at,
            sender_key="",
            error_code=None,
            error_message=None,
            operation_tags={},
            routes=None,
        )
        for position in range(3)
    ]
    async with pool.acquire() as conn, conn.transaction():
        await messages_store.insert_operation(
            conn,
            operation_id=operation_id,
            account_sid=account_sid,
            status="PROCESSING",
            tags={},
            content={"text": "hi"},
            sender={"address": "+15017122661", "channel": "SMS"},
            validity_period=36_000,
            total=3,
            now=at,
        )
        await messages_store.copy_messages(conn, records)
        for record in records:
            if record.status == "SENT":
                await conn.execute(
                    "INSERT INTO attempts (id, message_id, operation_id, account_sid, channel,"
                    " from_address, to_address, status, provider_sid, attempted_at, updated_at)"
                    " VALUES ($1, $2, $3, $4, 'SMS', '+15017122661', $5, 'SENT', $6, $7, $7)",
                    uuid7_at(stamp),
                    record.id,
                    operation_id,
                    account_sid,
                    record.address,
                    f"SM{record.id.hex}",
                    stamp,
                )
    return operation_id


async def partition_of(pool: asyncpg.Pool, table: str, key: uuid.UUID) -> str:
    """The partition a row with this key goes to (by the bounds, not by a row)."""
    column = "operation_id" if table == "events" else "id"
    row = await pool.fetchval(
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE {column} = $1", key
    )
    plan = json.loads(row)[0]["Plan"]
    while "Relation Name" not in plan:
        plan = plan["Plans"][0]
    name: str = plan["Relation Name"]
    return name


async def exists(pool: asyncpg.Pool, name: str) -> bool:
    return await pool.fetchval("SELECT to_regclass($1) IS NOT NULL", name) is True


async def rows_of(pool: asyncpg.Pool, operation_id: uuid.UUID) -> dict[str, int]:
    counts = {}
    for table in ("operations", "messages", "attempts", "events"):
        column = "id" if table == "operations" else "operation_id"
        counts[table] = await pool.fetchval(
            f"SELECT count(*) FROM {table} WHERE {column} = $1", operation_id
        )
    return counts


GONE = {"operations": 0, "messages": 0, "attempts": 0, "events": 0}
# events: the operation's own (operation.processing) and one per message sent.
ALL_THERE = {"operations": 1, "messages": 3, "attempts": 3, "events": 4}


async def days_partitioned(pool: asyncpg.Pool) -> None:
    """Day partitions from ten days before NOW to NOW (this database has no rows of them)."""
    made = await retention_store.create_day_partitions(pool, (NOW - timedelta(days=10)).date(), 11)
    assert made == 3 * 11


async def test_a_day_past_retention_goes_as_whole_partitions(pool: asyncpg.Pool) -> None:
    await days_partitioned(pool)
    sid = (await accounts.create_account(pool, "retention")).account_sid
    old = await send_of_day(pool, sid, NOW - timedelta(days=9))
    recent = await send_of_day(pool, sid, NOW - timedelta(days=6))
    day = (NOW - timedelta(days=9)).strftime("%Y%m%d")
    for table in ("messages", "attempts", "events"):
        assert await partition_of(pool, table, old) == f"{table}_p{day}"
    assert await rows_of(pool, old) == ALL_THERE

    assert await retention.purge(pool, now=NOW, retention_days=7) == 3
    for table in ("messages", "attempts", "events"):
        assert not await exists(pool, f"{table}_p{day}")
    assert await rows_of(pool, old) == GONE
    assert await rows_of(pool, recent) == ALL_THERE
    # Younger days are all there, and their provider sids still taken.
    kept_day = (NOW - timedelta(days=6)).strftime("%Y%m%d")
    assert await exists(pool, f"messages_p{kept_day}")
    sids = await pool.fetchval("SELECT count(*) FROM attempt_provider_sids")
    assert sids == 3


async def test_a_send_still_waiting_keeps_its_rows_when_its_day_goes(pool: asyncpg.Pool) -> None:
    await days_partitioned(pool)
    sid = (await accounts.create_account(pool, "retention")).account_sid
    at = NOW - timedelta(days=9)
    waiting = await send_of_day(pool, sid, at, due=True)
    done = await send_of_day(pool, sid, at + timedelta(hours=1))
    waiting_rows = await rows_of(pool, waiting)
    assert waiting_rows == {"operations": 1, "messages": 3, "attempts": 2, "events": 3}

    assert await retention.purge(pool, now=NOW, retention_days=7) == 3
    day = at.strftime("%Y%m%d")
    # The day's partitions now hold the waiting send's rows only.
    assert await exists(pool, f"messages_p{day}")
    assert await rows_of(pool, waiting) == waiting_rows
    assert await rows_of(pool, done) == GONE
    assert await pool.fetchval(f"SELECT count(*) FROM messages_p{day}") == 3
    assert await pool.fetchval(f"SELECT count(*) FROM attempts_p{day}") == 2
    # Still a partition of messages, with its indexes: the worker finds the message due.
    due = await pool.fetchval(
        "SELECT count(*) FROM messages WHERE due_at IS NOT NULL AND operation_id = $1", waiting
    )
    assert due == 1
    # The kept attempts' sids stay taken; the dropped ones' are free again.
    assert await pool.fetchval("SELECT count(*) FROM attempt_provider_sids") == 2

    await all_sent(pool)
    assert await retention.purge(pool, now=NOW, retention_days=7) == 3
    assert not await exists(pool, f"messages_p{day}")
    assert await rows_of(pool, waiting) == GONE


async def test_an_operation_goes_with_the_messages_of_its_day(pool: asyncpg.Pool) -> None:
    """A partition dropped fires no DELETE trigger: the operation (and whatever hangs on it)
    is deleted in the same transaction, including its messages whose ids fell after
    midnight, its attempts made on a later day and its webhook deliveries."""
    await days_partitioned(pool)
    sid = (await accounts.create_account(pool, "retention")).account_sid
    midnight = datetime.combine((NOW - timedelta(days=8)).date(), datetime.min.time(), UTC)
    straddling = await send_of_day(
        pool, sid, midnight - timedelta(milliseconds=1), messages_at=midnight
    )
    next_day = await send_of_day(pool, sid, midnight + timedelta(hours=2))
    assert await partition_of(pool, "messages", uuid7_at(midnight)) == (
        f"messages_p{midnight.strftime('%Y%m%d')}"
    )
    await pool.execute(
        "INSERT INTO webhook_deliveries (id, account_sid, operation_id, event_id, event_type,"
        " url, body, status, retry_until, created_at, updated_at)"
        " SELECT gen_random_uuid(), account_sid, operation_id, id, type, 'https://x.test', '{}',"
        " 'SUCCEEDED', $1, $1, $1 FROM events",
        NOW,
    )
    # Its day (the one before midnight) is past an 8-day retention; the next one is not.
    assert await retention.purge(pool, now=NOW, retention_days=8) == 3
    assert await rows_of(pool, straddling) == GONE
    assert await rows_of(pool, next_day) == ALL_THERE
    left = await pool.fetch("SELECT DISTINCT operation_id FROM webhook_deliveries")
    assert [r["operation_id"] for r in left] == [next_day]


async def test_maintenance_makes_days_ahead_once(pool: asyncpg.Pool) -> None:
    ahead = datetime.now(UTC) + timedelta(days=40)
    made = await retention.maintain_partitions(pool, now=ahead)
    assert made == 3 * retention.DAYS_AHEAD
    assert await retention.maintain_partitions(pool, now=ahead) == 0
    for days in range(retention.DAYS_AHEAD):
        day = (ahead + timedelta(days=days)).strftime("%Y%m%d")
        for table in ("messages", "attempts", "events"):
            assert await exists(pool, f"{table}_p{day}")
            # The partition has every index its table has.
            indexes = await pool.fetchval(
                "SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass",
                f"{table}_p{day}",
            )
            assert indexes == await pool.fetchval(
                "SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass", table
            )


async def test_an_insert_for_a_day_without_partition_lands_in_the_default_one(
    pool: asyncpg.Pool,
) -> None:
    sid = (await accounts.create_account(pool, "retention")).account_sid
    far = datetime.now(UTC) + timedelta(days=200)
    operation_id = await send_of_day(pool, sid, far)
    for table in ("messages", "attempts", "events"):
        tables = await pool.fetch(
            f"SELECT DISTINCT tableoid::regclass::text AS t FROM {table} WHERE operation_id = $1",
            operation_id,
        )
        assert [r["t"] for r in tables] == [f"{table}_default"]
    # Maintenance leaves that day to the default partition (its rows are there already) and
    # makes the others.
    made = await retention.maintain_partitions(pool, now=far)
    assert made == 3 * retention.DAYS_AHEAD - 3
    assert not await exists(pool, f"messages_p{far.strftime('%Y%m%d')}")
    assert await rows_of(pool, operation_id) == ALL_THERE


async def test_a_day_behind_a_long_transaction_waits_for_the_next_run(pool: asyncpg.Pool) -> None:
    """Dropping needs ACCESS EXCLUSIVE locks: behind a transaction reading messages it gives up
    after its lock timeout (rather than queue every reader behind it), and a later run drops
    the day."""
    await days_partitioned(pool)
    sid = (await accounts.create_account(pool, "retention")).account_sid
    old = await send_of_day(pool, sid, NOW - timedelta(days=9))
    day = (NOW - timedelta(days=9)).strftime("%Y%m%d")
    async with pool.acquire() as reader, reader.transaction():
        await reader.fetchval("SELECT count(*) FROM messages")
        await retention.purge(pool, now=NOW, retention_days=7)
        assert await exists(pool, f"messages_p{day}")
        # Nor are the rows of days left for later deleted one by one meanwhile (the oldest day,
        # empty, was the first to find its locks busy).
        assert await rows_of(pool, old) == ALL_THERE
    assert await retention.purge(pool, now=NOW, retention_days=7) == 3
    assert not await exists(pool, f"messages_p{day}")
    assert await rows_of(pool, old) == GONE
