"""Retention: operations and everything under them (messages, attempts, events, webhook
deliveries) go after the retention period; and the day partitions are made ahead.

Messages and attempts are partitioned by the day of their id, events by the day of their
operation's id (migration 0019, docs/partitioning.md). A day whose whole range is past retention
goes as a whole: its operations are deleted in batches (with what references them from
elsewhere: webhook deliveries, attempts made on a later day), then its partitions are dropped in
one short transaction, which deletes whatever operation of the day is still there; so once a
run is done no operation outlives its messages and no message its operation. An operation with
a message still due (scheduled further ahead than retention, or still being sent) stays with
all its rows: the day's partition is replaced by a copy of just those rows. Rows outside day
partitions (the legacy partition until its range is old enough, the default partition) and
operations kept earlier whose messages have gone out since are deleted row by row, walking the
oldest operations in small batches, each its own short transaction. Retention counts in whole
UTC days: a day goes once all of it is past the retention period.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import asyncpg
import structlog

from service.events import store as event_store
from service.idempotency import store as idempotency_store
from service.idempotency.logic import KEEP_FOR
from service.retention import store
from service.suppressions import logic as suppressions
from service.webhooks import store as webhook_store

log = structlog.get_logger(__name__)

OPERATIONS_PER_BATCH = 20
# A receipt that arrives before its sid is recorded waits at most this long for it.
EARLY_RECEIPTS_KEPT = timedelta(days=1)
# Day partitions made ahead: today and the next days. The job runs hourly, so days of missed
# runs pass before an insert would land in the default partition.
DAYS_AHEAD = 4
# Operations per batch when deleting what references a day about to go.
DAY_BATCH = 500
# Dropping a day waits this long at most for its locks (behind a long read, say), then gives
# up until the next run rather than queue every reader behind it. Below the statement timeout.
LOCK_TIMEOUT = "1s"
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
    try:
        await maintain_partitions(pool, now=now)
    except asyncpg.LockNotAvailableError:
        # Days are made well ahead: the next run makes them.
        log.warning("day partitions not made this run: their locks were busy")
    # Whole UTC days: everything of a day goes once all of it is past retention (at most a
    # day later than the retention period), row by row or with its partitions alike, so rows
    # of a day partly past retention are not deleted one by one before their day is dropped.
    past = (now - timedelta(days=retention_days)).astimezone(UTC)
    cutoff = datetime.combine(past.date(), time(), UTC)
    deleted, done = await drop_expired_days(pool, cutoff)
    # Days left for the next run are not deleted row by row meanwhile.
    for _ in range(max_batches if done else 0):
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


async def drop_expired_days(pool: asyncpg.Pool, cutoff: datetime) -> tuple[int, bool]:
    """Drop every partition whose whole range ends before the cutoff, oldest day first, with
    the operations of its day; return the messages that went, and whether every day went."""
    upto = await store.cutoff_key(pool, cutoff)
    days: dict[tuple[uuid.UUID, uuid.UUID], list[store.ExpiredPartition]] = {}
    for partition in await store.expired_partitions(pool, upto):
        days.setdefault((partition.lower, partition.upper), []).append(partition)
    deleted = 0
    for day, partitions in days.items():
        try:
            deleted += await drop_day(pool, day, partitions)
        except asyncpg.LockNotAvailableError:
            # Behind a long transaction: rather than queue every reader behind the drop, the
            # day (and the later ones) wait for the next run.
            log.warning("expired day partitions kept this run: their locks were busy")
            return deleted, False
    return deleted, True


async def drop_day(
    pool: asyncpg.Pool,
    day: tuple[uuid.UUID, uuid.UUID],
    partitions: list[store.ExpiredPartition],
) -> int:
    """Delete the day's operations (keeping the sends with a message still due) and drop its
    partitions; return the messages of the operations deleted."""
    upper = day[1]
    until = uuid.UUID(int=((upper.int >> 80) + STRADDLE_MS) << 80)
    keep = await store.kept_operations(pool, upper)
    # A table with no partition for the day (maintenance found rows of it already in the
    # default partition) has the day's rows there: they go as rows, with their operations.
    whole = {p.table_name for p in partitions} == TABLES
    deleted = 0
    # The day's operations, a batch per short transaction, with what references them from
    # outside the day's partitions (webhook deliveries, attempts made on a later day, messages
    # whose ids fell past midnight) and the provider sids of their attempts. Their rows in the
    # day's partitions are past retention: they go with the partitions below, seconds later.
    after = store.NIL
    while ids := await store.day_operations(pool, day, after, keep, DAY_BATCH):
        async with pool.acquire() as conn, conn.transaction():
            await webhook_store.delete_operations_deliveries(conn, ids)
            if whole:
                deleted += await store.count_day_messages(conn, day, ids)
                await store.release_provider_sids(conn, ids)
                await store.delete_later_attempts(conn, upper, ids)
                deleted += await store.delete_straddling_messages_of(conn, upper, until, ids)
                await store.delete_operations_only(conn, ids)
            else:
                await event_store.delete_operations_events(conn, ids)
                deleted += await store.delete_operations(conn, ids)
        after = ids[-1]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        await store.lock_partitioned(conn)
        # Again under the lock: a send kept above whose last message went out since goes now
        # (its operation with it, below). Catalog work and the kept sends' rows only.
        keep = await store.kept_operations(conn, upper)
        for partition in partitions:
            await store.drop_day_partition(conn, partition.name, keep)
        deleted += await store.delete_straddling_messages(conn, day, until, keep)
        await store.delete_day_operations(conn, day, keep)
    return deleted
