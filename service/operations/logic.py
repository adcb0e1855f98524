"""Reading, listing and canceling operations, and listing their errors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import get_args

import asyncpg

from schemas.common import Pagination
from schemas.messages import AddressOut, ErrorDetail
from schemas.operations import (
    CancelOperationAccepted,
    ErrorCodeCount,
    OperationError,
    OperationErrorsPage,
    OperationRead,
    OperationsPage,
    OperationStats,
    OperationStatus,
)
from service import db, error_codes, filters, ids
from service.clock import rfc3339
from service.errors import CannotCancel, NotFound
from service.messages.logic import operation_url
from service.operations import store
from service.pagination import Position, decode_position, position_page, query_fingerprint

OPERATION_STATUSES: tuple[str, ...] = get_args(OperationStatus)


def present_operation(row: store.OperationRow) -> OperationRead:
    # A large send's staged recipients not made into messages yet (messages/logic.accept_send)
    # are in the total; each is waiting, as its message will be: scheduled, queued, or canceled
    # once the send is. So the eight counts sum to the total at every poll.
    counted = (
        row.scheduled
        + row.queued
        + row.sent
        + row.delivered
        + row.read
        + row.undelivered
        + row.failed
        + row.canceled
    )
    waiting = max(0, row.total - counted)
    scheduled, queued, canceled = row.scheduled, row.queued, row.canceled
    if row.status == "CANCELED":
        canceled += waiting
    elif row.status == "SCHEDULED":
        scheduled += waiting
    else:
        queued += waiting
    stats = OperationStats(
        total=row.total,
        recipients=row.total,
        attempts=row.attempts,
        unaddressable=row.unaddressable,
        scheduled=scheduled,
        queued=queued,
        sent=row.sent,
        delivered=row.delivered,
        read=row.read,
        undelivered=row.undelivered,
        failed=row.failed,
        canceled=canceled,
    )
    return OperationRead(
        id=ids.encode(ids.OPERATION, row.id),
        status=row.status,  # type: ignore[arg-type]
        tags=row.tags,
        stats=stats,
        created_at=rfc3339(row.created_at),
        updated_at=rfc3339(row.updated_at),
        status_callback=row.status_callback,
    )


async def get_operation(
    pool: asyncpg.Pool, *, account_sid: str, operation_id: str
) -> OperationRead:
    key = ids.decode(ids.OPERATION, operation_id)
    row = await store.get_operation(pool, key, account_sid) if key else None
    if row is None:
        raise NotFound()
    return present_operation(row)


async def list_operations(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    status: str | None = None,
    tags: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    page_size: int,
    page_token: str | None,
) -> OperationsPage:
    """GET /v1/Messages/Operations: newest first, every filter given must match."""
    problems = filters.FilterProblems()
    start = filters.timestamp(start_date, "$.startDate", problems)
    end = filters.timestamp(end_date, "$.endDate", problems)
    filters.date_range(start, end, "$.endDate", problems)
    checked = store.OperationFilters(
        status=filters.choice(status, OPERATION_STATUSES, "$.status", problems),
        tags=filters.tags_query(tags, "$.tags", problems),
        start_date=start,
        end_date=end,
    )
    problems.raise_any()
    query = query_fingerprint("operations", checked)
    after = decode_position(query, page_token)
    rows = await store.list_operations(
        pool, account_sid=account_sid, filters=checked, after=after, limit=page_size + 1
    )
    page, next_token, self_token = position_page(
        rows, page_size, query, after, lambda r: Position(r.created_at, r.id)
    )
    return OperationsPage(
        operations=[present_operation(r) for r in page],
        pagination=Pagination(next=next_token, self=self_token),
    )


async def cancel_operation(
    pool: asyncpg.Pool, *, account_sid: str, operation_id: str, now: datetime
) -> uuid.UUID:
    """Cancel every message not yet handed to a provider, and the expansion of its profiles
    and audiences if not over (no more messages are made); the operation becomes CANCELED.

    Nothing left to cancel is a 409 (30409) and changes nothing.
    """
    key = ids.decode(ids.OPERATION, operation_id)
    if key is None:
        raise NotFound()

    async def cancel() -> uuid.UUID:
        async with pool.acquire() as conn, conn.transaction():
            locked = await store.lock_operation(conn, key, account_sid)
            if locked is None:
                raise NotFound()
            canceled = await store.cancel_waiting_messages(conn, key, now)
            if canceled == 0 and not (locked.expanding and locked.status != "CANCELED"):
                raise CannotCancel()
            await store.mark_canceled(conn, key, now)
        return key

    return await db.retry_deadlocks(cancel)


def cancel_accepted(base_url: str, operation_id: uuid.UUID) -> CancelOperationAccepted:
    return CancelOperationAccepted(
        resource_id=ids.encode(ids.OPERATION, operation_id),
        resource_location=operation_url(base_url, operation_id),
    )


async def list_errors(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    operation_id: str,
    page_size: int,
    page_token: str | None,
    base_url: str = "",
) -> OperationErrorsPage:
    """The operation's FAILED and UNDELIVERED messages, newest first, and counts per code.

    `base_url` prefixes the infoUrl of codes of our own (a path on this service without it).
    """
    key = ids.decode(ids.OPERATION, operation_id)
    if key is None:
        raise NotFound()
    query = query_fingerprint("operation-errors", key)
    after = decode_position(query, page_token)
    # One snapshot, so the counts and the page agree.
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        if not await store.operation_exists(conn, key, account_sid):
            raise NotFound()
        await db.plan_with_values(conn)
        rows = await store.list_errors(conn, key, after, page_size + 1)
        counts = await store.error_counts(conn, key)
    page, next_token, self_token = position_page(
        rows, page_size, query, after, lambda r: Position(r.created_at, r.id)
    )
    return OperationErrorsPage(
        errors=[_present_error(r, base_url) for r in page],
        counts=[ErrorCodeCount(code=c.code, count=c.count) for c in counts],
        pagination=Pagination(next=next_token, self=self_token),
    )


def _present_error(row: store.ErrorRow, base_url: str) -> OperationError:
    error = None
    if row.error_code is not None:
        error = ErrorDetail(
            code=row.error_code,
            message=row.error_message or "",
            info_url=error_codes.info_url(row.error_code, base_url),
        )
    return OperationError(
        message_id=ids.encode(ids.MESSAGE, row.id),
        status=row.status,  # type: ignore[arg-type]
        to=[AddressOut(address=row.address, channel=row.channel)],
        error=error,
        updated_at=rfc3339(row.updated_at),
    )
