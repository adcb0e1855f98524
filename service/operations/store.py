"""Operations and their derived stats."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from service import sql

Q = sql.load(__file__)


class OperationRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    status: str
    tags: dict[str, str]
    total: int
    created_at: datetime
    updated_at: datetime


async def get_operation(
    conn: asyncpg.Connection | asyncpg.Pool, operation_id: uuid.UUID, account_sid: str
) -> OperationRow | None:
    row = await conn.fetchrow(Q.get_operation, operation_id, account_sid)
    return OperationRow(**dict(row)) if row else None


async def status_counts(
    conn: asyncpg.Connection, operation_id: uuid.UUID
) -> tuple[dict[str, int], int]:
    """Message counts by status and the number of attempts, read in one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(Q.status_counts, operation_id)
        attempts = await conn.fetchval(Q.attempt_count, operation_id)
    return {row["status"]: row["n"] for row in rows}, int(attempts)
