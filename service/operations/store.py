"""Operations, their derived stats, cancel, and their errors."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec

from service import db, sql
from service.pagination import Position

Q = sql.load(__file__)


class OperationRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    status: str
    tags: dict[str, str]
    total: int
    created_at: datetime
    updated_at: datetime
    status_callback: str | None = None


class OperationCounts(msgspec.Struct, frozen=True):
    """Messages by status and the number of attempts of one operation, from one snapshot."""

    by_status: dict[str, int]
    attempts: int
    unaddressable: int = 0


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


async def operation_counts(
    conn: asyncpg.Connection, operation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, OperationCounts]:
    """Counts of each operation (zeros for one without messages), read in one snapshot."""
    keys = list(operation_ids)
    by_status: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        status_rows = await conn.fetch(Q.status_counts, keys)
        attempt_rows = await conn.fetch(Q.attempt_counts, keys)
        unaddressable_rows = await conn.fetch(Q.unaddressable_counts, keys)
    for row in status_rows:
        by_status[row["operation_id"]][row["status"]] = row["n"]
    attempts = {row["operation_id"]: row["n"] for row in attempt_rows}
    unaddressable = {row["operation_id"]: row["n"] for row in unaddressable_rows}
    return {
        key: OperationCounts(
            by_status=by_status.get(key, {}),
            attempts=attempts.get(key, 0),
            unaddressable=unaddressable.get(key, 0),
        )
        for key in keys
    }


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


async def lock_operation(
    conn: asyncpg.Connection, operation_id: uuid.UUID, account_sid: str
) -> str | None:
    """Lock this account's operation row until the transaction ends; its status, or None."""
    status: str | None = await conn.fetchval(Q.lock_operation, operation_id, account_sid)
    return status


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
