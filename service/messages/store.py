"""Operations and messages as written on send, and message reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from service import sql

Q = sql.load(__file__)

MESSAGE_COPY_COLUMNS = (
    "id",
    "operation_id",
    "account_sid",
    "position",
    "channel",
    "address",
    "variables",
    "status",
    "scheduled_for",
    "due_at",
    "created_at",
    "updated_at",
)


class MessageRow(msgspec.Struct, frozen=True):
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
    status: str
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
    )


async def copy_messages(conn: asyncpg.Connection, records: Sequence[tuple[Any, ...]]) -> None:
    """All of an operation's messages in one COPY: no round trip per recipient."""
    await conn.copy_records_to_table("messages", records=records, columns=MESSAGE_COPY_COLUMNS)


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


async def list_messages(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    account_sid: str,
    operation_id: uuid.UUID | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[MessageRow]:
    if operation_id is not None:
        rows = await conn.fetch(
            Q.list_messages_by_operation, operation_id, account_sid, after, limit
        )
    else:
        rows = await conn.fetch(Q.list_messages_by_account, account_sid, after, limit)
    return [MessageRow(**dict(row)) for row in rows]
