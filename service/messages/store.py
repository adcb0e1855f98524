"""Operations and messages as written on send, and message reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from schemas.messages import AttemptStatus, MessageStatus
from service import sql
from service.pagination import Position
from service.sending.records import Route

Q = sql.load(__file__)


class MessageRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One messages row as a send writes it (COPY takes its columns from these fields, in
    this order)."""

    id: uuid.UUID
    operation_id: uuid.UUID
    account_sid: str
    position: int
    channel: str
    address: str
    variables: dict[str, str] | None
    status: MessageStatus
    scheduled_for: datetime | None
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    sender_key: str
    error_code: int | None
    error_message: str | None
    # The operation's tags on every message, so messages_tags_idx answers tag filters.
    operation_tags: dict[str, str]
    routes: list[Route] | None


MESSAGE_COPY_COLUMNS: tuple[str, ...] = MessageRecord.__struct_fields__


class MessageRow(msgspec.Struct, frozen=True):
    """A message as the list queries select it, their columns in this order."""

    id: uuid.UUID
    operation_id: uuid.UUID
    channel: str
    address: str
    status: str
    tags: dict[str, str]
    sender: dict[str, Any]
    scheduled_for: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class MessageDetailRow(MessageRow, frozen=True):
    content: dict[str, Any] | None
    variables: dict[str, str] | None
    operation_content: dict[str, Any]


class AttemptRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    channel: str
    from_address: str
    to_address: str
    status: AttemptStatus
    provider_sid: str | None
    segments: int | None
    encoding: str | None
    error_code: int | None
    error_message: str | None
    attempted_at: datetime
    updated_at: datetime


async def insert_operation(
    conn: asyncpg.Connection,
    *,
    operation_id: uuid.UUID,
    account_sid: str,
    status: str,
    tags: dict[str, str],
    content: dict[str, Any],
    sender: dict[str, Any],
    validity_period: int,
    total: int,
    now: datetime,
    status_callback: str | None = None,
    status_callback_secret: str | None = None,
    request_id: str | None = None,
    traceparent: str | None = None,
) -> None:
    await conn.execute(
        Q.insert_operation,
        operation_id,
        account_sid,
        status,
        tags,
        content,
        sender,
        validity_period,
        total,
        now,
        status_callback,
        status_callback_secret,
        request_id,
        traceparent,
    )


async def status_callback_secret(
    conn: asyncpg.Connection | asyncpg.Pool, operation_id: uuid.UUID
) -> str | None:
    secret: str | None = await conn.fetchval(Q.status_callback_secret, operation_id)
    return secret


# Up to this many messages are written with one pipelined INSERT per row (executemany: one
# round trip); more with COPY (two round trips, whatever the count, and far less work per row).
SMALL_BATCH = 32
# The names are MessageRecord's fields: no input in it.
_INSERT_MESSAGE = (
    f"INSERT INTO messages ({', '.join(MESSAGE_COPY_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(MESSAGE_COPY_COLUMNS) + 1))})"
)


async def copy_messages(conn: asyncpg.Connection, records: Sequence[MessageRecord]) -> None:
    """All of an operation's messages at once: no round trip per recipient."""
    rows = [msgspec.structs.astuple(record) for record in records]
    if len(rows) <= SMALL_BATCH:
        await conn.executemany(_INSERT_MESSAGE, rows)
        return
    await conn.copy_records_to_table("messages", records=rows, columns=MESSAGE_COPY_COLUMNS)


class StagedChunk(msgspec.Struct, frozen=True):
    chunk: int
    recipients: bytes  # service/messages/logic.staged_chunks
    more: bool  # whether another chunk follows


async def stage_recipients(
    conn: asyncpg.Connection, operation_id: uuid.UUID, chunks: Sequence[bytes]
) -> None:
    """A large send's recipients, for the workers to make into messages (migrations/0023)."""
    await conn.execute(Q.stage_recipients, operation_id, list(range(len(chunks))), list(chunks))


async def next_staged_chunk(
    conn: asyncpg.Connection, operation_id: uuid.UUID
) -> StagedChunk | None:
    row = await conn.fetchrow(Q.next_staged_chunk, operation_id)
    return StagedChunk(row["chunk"], row["recipients"], row["more"]) if row else None


async def drop_staged_chunk(conn: asyncpg.Connection, operation_id: uuid.UUID, chunk: int) -> None:
    await conn.execute(Q.drop_staged_chunk, operation_id, chunk)


async def sender_backlogs(
    conn: asyncpg.Connection | asyncpg.Pool, sender_keys: Sequence[str], now: datetime
) -> dict[str, int]:
    """How many messages each sender has waiting to go now."""
    if not sender_keys:
        return {}
    rows = await conn.fetch(Q.sender_backlogs, list(sender_keys), now)
    return {row["sender_key"]: int(row["backlog"]) for row in rows}


async def get_message(
    conn: asyncpg.Connection | asyncpg.Pool, message_id: uuid.UUID, account_sid: str
) -> MessageDetailRow | None:
    row = await conn.fetchrow(Q.get_message, message_id, account_sid)
    return MessageDetailRow(**dict(row)) if row else None


async def list_attempts(
    conn: asyncpg.Connection | asyncpg.Pool, message_id: uuid.UUID
) -> list[AttemptRow]:
    rows = await conn.fetch(Q.list_attempts, message_id)
    return [AttemptRow(**dict(row)) for row in rows]


class MessageFilters(msgspec.Struct, frozen=True):
    """The filters of a message list, checked and normalised; None means not filtered."""

    operation_id: uuid.UUID | None = None
    status: str | None = None
    channel: str | None = None
    address: str | None = None
    tags: dict[str, str] | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None


async def list_messages(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    filters: MessageFilters,
    after: Position | None,
    limit: int,
) -> list[MessageRow]:
    """Messages matching every filter, newest first, strictly after `after`.

    `pool`: a read pool (db.create_read_pool), whose sessions plan these queries generically,
    without bitmaps or sorts (queries.sql): one round trip.
    """
    statement = list_statement(account_sid, filters, after, limit)
    rows = await pool.fetch(statement.query, *statement.args)
    # Positional: the queries select MessageRow's fields in its order (a page is 51 rows).
    return [MessageRow(*row) for row in rows]


class ListStatement(msgspec.Struct, frozen=True):
    """A list's query, composed for its shape of filters, and its arguments."""

    query: str
    args: tuple[Any, ...]


def list_statement(
    account_sid: str, filters: MessageFilters, after: Position | None, limit: int
) -> ListStatement:
    """The query of this shape of filters (queries.sql): with an operation, tags with only
    dates, or any other, with a condition for each filter given. Each reads in list order from
    the page position, stopping after `limit` rows, so a page costs the same at any depth and
    however many rows match."""
    shape = _shape(filters)
    if shape == "operation":
        where = sql.Conditions(account_sid, limit, filters.operation_id)
        query = Q.list_operation_messages
    elif shape == "tagged":
        where = sql.Conditions(account_sid, limit, filters.tags)
        query = Q.list_tagged_messages
    else:
        where = sql.Conditions(account_sid, limit)
        query = Q.list_messages
    # The dates and the position's created_at bound the messages, and in the tagged walk the
    # operations too (an operation's messages have its created_at).
    bounded = ("filters", "operation filters") if shape == "tagged" else ("filters",)
    if shape != "tagged":
        for column, value in (
            ("status", filters.status),
            ("channel", filters.channel),
            ("address", filters.address),
        ):
            if value is not None:
                where.add("filters", f"{column} = {where.param(value)}")
        if filters.status in ERROR_STATUSES:
            # Implies messages_operation_errors_idx's predicate, which a generic plan cannot
            # read off `status = $n`: an operation's errors are read from that index.
            where.add("filters", "status IN ('FAILED', 'UNDELIVERED')")
        if filters.tags is not None:
            tags = where.param(filters.tags)
            where.add("filters", f"coalesce(tags, operation_tags) @> {tags}::jsonb")
    for bound, date in (("created_at >=", filters.start_date), ("created_at <", filters.end_date)):
        if date is not None:
            placeholder = where.param(date)
            for place in bounded:
                where.add(place, f"{bound} {placeholder}")
    if after is not None:
        at = where.param(after.created_at)
        for place in bounded:
            where.add(place, f"created_at <= {at}")
        where.add("filters", f"(created_at, id) < ({at}, {where.param(after.id)}::uuid)")
    return ListStatement(where.compose(query, *bounded), tuple(where.args))


# The statuses of messages_operation_errors_idx (a partial index).
ERROR_STATUSES = ("FAILED", "UNDELIVERED")


def _shape(filters: MessageFilters) -> str:
    if filters.operation_id is not None:
        return "operation"
    if filters.tags is not None and not (filters.status or filters.channel or filters.address):
        return "tagged"
    return "account"


async def find_message_by_provider_sid(
    conn: asyncpg.Connection | asyncpg.Pool, provider_sid: str, account_sid: str
) -> uuid.UUID | None:
    message_id: uuid.UUID | None = await conn.fetchval(
        Q.find_message_by_provider_sid, provider_sid, account_sid
    )
    return message_id
