"""Reading operations."""

from __future__ import annotations

import asyncpg

from schemas.operations import OperationRead, OperationStats
from service import ids
from service.clock import rfc3339
from service.errors import NotFound
from service.operations import store


async def get_operation(
    pool: asyncpg.Pool, *, account_sid: str, operation_id: str
) -> OperationRead:
    key = ids.decode(ids.OPERATION, operation_id)
    async with pool.acquire() as conn:
        row = await store.get_operation(conn, key, account_sid) if key else None
        if row is None:
            raise NotFound()
        counts, attempts = await store.status_counts(conn, row.id)
    stats = OperationStats(
        total=row.total,
        recipients=row.total,
        attempts=attempts,
        unaddressable=0,
        scheduled=counts.get("SCHEDULED", 0),
        queued=counts.get("QUEUED", 0),
        sent=counts.get("SENT", 0),
        delivered=counts.get("DELIVERED", 0),
        read=counts.get("READ", 0),
        undelivered=counts.get("UNDELIVERED", 0),
        failed=counts.get("FAILED", 0),
        canceled=counts.get("CANCELED", 0),
    )
    return OperationRead(
        id=ids.encode(ids.OPERATION, row.id),
        status=row.status,  # type: ignore[arg-type]
        tags=row.tags,
        stats=stats,
        created_at=rfc3339(row.created_at),
        updated_at=rfc3339(row.updated_at),
    )
