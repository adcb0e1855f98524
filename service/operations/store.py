"""Operations with their stats (from their counter rows), cancel, and their errors."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from service import db, sql
from service.pagination import Position

Q = sql.load(__file__)


class OperationRow(msgspec.Struct, frozen=True):
    """An operation and its counts (messages by status, unaddressable ones, attempts), read in
    one statement from its row and its counter rows (migrations/0016)."""

    id: uuid.UUID
    status: str
    tags: dict[str, str]
    total: int
    created_at: datetime
    updated_at: datetime
    status_callback: str | None
    scheduled: int
    queued: int
    sent: int
    delivered: int
    read: int
    undelivered: int
    failed: int
    canceled: int
    unaddressable: int
    attempts: int


class OperationFilters(msgspec.Struct, frozen=True):
    """The filters of the operation list, checked and normalised; None means not filtered."""

    status: str | None = None
    tags: dict[str, str] | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None


class ErrorRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    channel: str
    address: str
    status: str
    error_code: int | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime


class ErrorCount(msgspec.Struct, frozen=True):
    code: int | None
    count: int


async def get_operation(
    conn: asyncpg.Connection | asyncpg.Pool, operation_id: uuid.UUID, account_sid: str
) -> OperationRow | None:
    row = await conn.fetchrow(Q.get_operation, operation_id, account_sid)
    return OperationRow(**dict(row)) if row else None


async def operation_exists(
    conn: asyncpg.Connection | asyncpg.Pool, operation_id: uuid.UUID, account_sid: str
) -> bool:
    return bool(await conn.fetchval(Q.operation_exists, operation_id, account_sid))


async def list_operations(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    filters: OperationFilters,
    after: Position | None,
    limit: int,
) -> list[OperationRow]:
    """Operations matching every filter, newest first, strictly after `after`."""
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await db.plan_with_values(conn)
        rows = await conn.fetch(
            Q.list_operations,
            account_sid,
            filters.status,
            filters.tags,
            filters.start_date,
            filters.end_date,
            after.created_at if after else None,
            after.id if after else None,
            limit,
        )
    return [OperationRow(**dict(row)) for row in rows]


class LockedOperation(msgspec.Struct, frozen=True):
    status: str
    # Its profiles and audiences are still being expanded into messages.
    expanding: bool


async def lock_operation(
    conn: asyncpg.Connection, operation_id: uuid.UUID, account_sid: str
) -> LockedOperation | None:
    """Lock this account's operation row until the transaction ends; None when not found."""
    row = await conn.fetchrow(Q.lock_operation, operation_id, account_sid)
    return None if row is None else LockedOperation(**dict(row))


async def cancel_waiting_messages(
    conn: asyncpg.Connection, operation_id: uuid.UUID, now: datetime
) -> int:
    """Cancel the messages not yet handed to a provider; how many there were."""
    canceled: int = await conn.fetchval(Q.cancel_waiting_messages, operation_id, now)
    return canceled


async def mark_canceled(conn: asyncpg.Connection, operation_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(Q.mark_canceled, operation_id, now)


async def list_errors(
    conn: asyncpg.Connection, operation_id: uuid.UUID, after: Position | None, limit: int
) -> list[ErrorRow]:
    rows = await conn.fetch(
        Q.list_errors,
        operation_id,
        after.created_at if after else None,
        after.id if after else None,
        limit,
    )
    return [ErrorRow(**dict(row)) for row in rows]


async def error_counts(conn: asyncpg.Connection, operation_id: uuid.UUID) -> list[ErrorCount]:
    rows = await conn.fetch(Q.error_counts, operation_id)
    return [ErrorCount(**dict(row)) for row in rows]
