"""Deleting what is older than the retention period."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from service import sql

Q = sql.load(__file__)


async def expired_operations(
    conn: asyncpg.Pool | asyncpg.Connection, before: datetime, limit: int
) -> list[uuid.UUID]:
    rows = await conn.fetch(Q.expired_operations, before, limit)
    return [row["id"] for row in rows]


async def delete_operations(conn: asyncpg.Connection, operation_ids: list[uuid.UUID]) -> int:
    """Delete operations with their messages and attempts; return the messages deleted."""
    await conn.execute(Q.delete_attempts, operation_ids)
    deleted = await conn.execute(Q.delete_messages, operation_ids)
    await conn.execute(Q.delete_operations, operation_ids)
    return int(deleted.split()[-1])


async def purge_early_receipts(conn: asyncpg.Pool | asyncpg.Connection, before: datetime) -> None:
    await conn.execute(Q.purge_early_receipts, before)
