"""Retention: operations and everything under them (messages, attempts, events, webhook
deliveries) go after the retention period; and the day partitions are made ahead.

Messages and attempts are partitioned by the day of their id, events by the day of their
operation's id (migration 0019, docs/partitioning.md). A day whose whole range is past retention
goes as a whole: its partitions are dropped, and its operations deleted in the same
transaction, so no operation outlives its messages and no message its operation. What still
references the day from elsewhere (webhook deliveries, attempts made on a later day) is deleted
first, in batches. An operation with a message still due (scheduled further ahead than
retention, or still being sent) stays with all its rows: the day's partition is replaced by a
copy of just those rows. Rows outside day partitions (the legacy partition until its range is
old enough, the default partition) and operations kept earlier whose messages have gone out
since are deleted row by row, walking the oldest operations in small batches, each its own
short transaction. Retention counts in whole UTC days: a day goes once all of it is past the
retention period.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import asyncpg

from service.events import store as event_store
from service.idempotency import store as idempotency_store
from service.idempotency.logic import KEEP_FOR
from service.retention import store
from service.suppressions import logic as suppressions
from service.webhooks import store as webhook_store

OPERATIONS_PER_BATCH = 20
# A receipt that arrives before its sid is recorded waits at most this long for it.
EARLY_RECEIPTS_KEPT = timedelta(days=1)
# Day partitions made ahead: today and the next days. The job runs hourly, so days of missed
# runs pass before an insert would land in the default partition.
DAYS_AHEAD = 4
# Operations per batch when deleting what references a day about to go.
DAY_BATCH = 500
# Dropping a day waits this long at most for its locks (behind a long read, say), then gives
# up until the next run rather than queue every reader behind it.
LOCK_TIMEOUT = "5s"
# Messages of a day's operations whose ids fell this far past midnight at most (ids are made
# one by one, right after the operation's).
STRADDLE_MS = 3_600_000
# The day-partitioned tables (the day_partitioned table of migration 0019).
TABLES = frozenset({"messages", "attempts", "events"})


async def maintain_partitions(pool: asyncpg.Pool, *, now: datetime) -> int:
    """Make the day partitions of today and the next DAYS_AHEAD - 1 days; return those made."""
    today = now.astimezone(UTC).date()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        return await store.create_day_partitions(conn, today, DAYS_AHEAD)


async def purge(
    pool: asyncpg.Pool, *, now: datetime, retention_days: int, max_batches: int = 500
) -> int:
    """Make the partitions ahead, delete what is past retention (a bounded amount of row
    deletion per call); return the messages deleted."""
    await maintain_partitions(pool, now=now)
    # Whole UTC days: everything of a day goes once all of it is past retention (at most a
    # day later than the retention period), row by row or with its partitions alike, so rows
    # of a day partly past retention are not deleted one by one before their day is dropped.
    past = (now - timedelta(days=retention_days)).astimezone(UTC)
    cutoff = datetime.combine(past.date(), time(), UTC)
    deleted = await drop_expired_days(pool, cutoff)
    for _ in range(max_batches):
        ids = await store.expired_operations(pool, cutoff, OPERATIONS_PER_BATCH)
        if not ids:
            break
        async with pool.acquire() as conn, conn.transaction():
            # Their events and webhook deliveries (with their tries) go with them.
            await event_store.delete_operations_events(conn, ids)
            await webhook_store.delete_operations_deliveries(conn, ids)
            deleted += await store.delete_operations(conn, ids)
    await idempotency_store.purge_expired(pool, now - KEEP_FOR, 10_000)
    await store.purge_early_receipts(pool, now - EARLY_RECEIPTS_KEPT)
    await suppressions.purge_inbound_keywords(pool, now)
    return deleted


async def drop_expired_days(pool: asyncpg.Pool, cutoff: datetime) -> int:
    """Drop every partition whose whole range ends before the cutoff, oldest day first, with
    the operations of its day; return the messages that went."""
    upto = await store.cutoff_key(pool, cutoff)
    days: dict[tuple[uuid.UUID, uuid.UUID], list[store.ExpiredPartition]] = {}
    for partition in await store.expired_partitions(pool, upto):
        days.setdefault((partition.lower, partition.upper), []).append(partition)
    deleted = 0
    for day, partitions in days.items():
        deleted += await drop_day(pool, day, partitions)
    return deleted


async def drop_day(
    pool: asyncpg.Pool,
    day: tuple[uuid.UUID, uuid.UUID],
    partitions: list[store.ExpiredPartition],
) -> int:
    """Drop one day's partitions (the key range `day`) and delete the day's operations,
    keeping the sends with a message still due; return the messages that went."""
    upper = day[1]
    keep = await store.kept_operations(pool, upper)
    # A table with no partition for the day (maintenance found rows of it already in the
    # default partition) has the day's rows there: they go as rows, with their operations.
    whole = {p.table_name for p in partitions} == TABLES
    deleted = 0
    # What references the day's operations from outside its partitions, in batches first:
    # past retention either way, and no reader follows it without the operation.
    after = store.NIL
    while ids := await store.day_operations(pool, day, after, keep, DAY_BATCH):
        async with pool.acquire() as conn, conn.transaction():
            await webhook_store.delete_operations_deliveries(conn, ids)
            await store.delete_later_attempts(conn, upper, ids)
            if not whole:
                await event_store.delete_operations_events(conn, ids)
                deleted += await store.delete_operations(conn, ids)
        after = ids[-1]
    for partition in partitions:
        if partition.table_name == "messages":
            deleted += await store.count_dropped_messages(pool, partition.name, keep)
    until = uuid.UUID(int=((upper.int >> 80) + STRADDLE_MS) << 80)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        await store.lock_partitioned(conn)
        # Again under the lock: a receipt's fallback may have made a message due since.
        keep = await store.kept_operations(conn, upper)
        for partition in partitions:
            await store.drop_day_partition(conn, partition.name, keep)
        deleted += await store.delete_straddling_messages(conn, day, until, keep)
        await store.delete_day_operations(conn, day, keep)
    return deleted
