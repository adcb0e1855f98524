"""Retention: operations and everything under them (messages, attempts, events, webhook
deliveries) go after the retention period.

Deletion walks the oldest operations in small batches, each its own short transaction, so no
lock is held long and sending, receipts and reads carry on meanwhile.
"""

from __future__ import annotations

from datetime import datetime, timedelta

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


async def purge(
    pool: asyncpg.Pool, *, now: datetime, retention_days: int, max_batches: int = 500
) -> int:
    """Delete what is past retention, a bounded amount per call; return messages deleted."""
    cutoff = now - timedelta(days=retention_days)
    deleted = 0
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
