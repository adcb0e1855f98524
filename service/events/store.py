"""Event rows (written by triggers, migrations/0009) and the marks readers follow them by."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias

import asyncpg
import msgspec

from service import sql

Q = sql.load(__file__)

Connection: TypeAlias = asyncpg.Pool | asyncpg.Connection


class EventRow(msgspec.Struct, frozen=True):
    id: int
    operation_id: uuid.UUID
    message_id: uuid.UUID | None
    type: str
    error_code: int | None
    occurred_at: datetime
    from_address: str | None
    from_channel: str | None
    to_address: str | None
    to_channel: str | None
    tags: dict[str, str] | None
    tries: int
    downstream_id: str | None
    # The operation's: the request that created it (migrations/0013).
    request_id: str | None = None
    traceparent: str | None = None


async def last_event_id(conn: Connection) -> int:
    value: int = await conn.fetchval(Q.last_event_id)
    return value


async def take_mark(conn: Connection) -> tuple[int, int]:
    """A mark's (last event id, xid bound); outside any transaction (queries.sql)."""
    row = await conn.fetchrow(Q.take_mark)
    return int(row["last_id"]), int(row["xmax"])


async def settled(conn: Connection, xmax: int) -> bool:
    return bool(await conn.fetchval(Q.settled, xmax))


async def operation_events(
    conn: Connection, operation_id: uuid.UUID, after: int, upto: int, limit: int
) -> list[EventRow]:
    rows = await conn.fetch(Q.operation_events, operation_id, after, upto, limit)
    return [EventRow(**dict(row)) for row in rows]


class MessageEventRow(msgspec.Struct, frozen=True):
    type: str
    error_code: int | None
    route_index: int | None
    occurred_at: datetime


async def message_events(
    conn: Connection, operation_id: uuid.UUID, message_id: uuid.UUID, account_sid: str
) -> list[MessageEventRow]:
    rows = await conn.fetch(Q.message_events, operation_id, message_id, account_sid)
    return [MessageEventRow(**dict(row)) for row in rows]


async def events_by_id(conn: Connection, ids: Sequence[int]) -> list[EventRow]:
    rows = await conn.fetch(Q.events_by_id, list(ids))
    return [EventRow(**dict(row)) for row in rows]


async def operation_finished(
    conn: Connection, operation_id: uuid.UUID, account_sid: str
) -> bool | None:
    """Whether the operation and all its messages are done; None when it is not this account's."""
    row = await conn.fetchrow(Q.operation_state, operation_id, account_sid)
    return None if row is None else bool(row["finished"])


async def delete_operations_events(conn: Connection, operation_ids: Sequence[uuid.UUID]) -> None:
    await conn.execute(Q.delete_operations_events, list(operation_ids))


async def feed_events(
    conn: Connection, operation_ids: Sequence[uuid.UUID], after: int, upto: int, limit: int
) -> list[EventRow]:
    rows = await conn.fetch(Q.feed_events, list(operation_ids), after, upto, limit)
    return [EventRow(**dict(row)) for row in rows]


async def finished_operations(
    conn: Connection, operation_ids: Sequence[uuid.UUID]
) -> tuple[set[uuid.UUID], int]:
    """Those of the operations that are finished (or gone), and the events' sequence as it
    stood after that look (0 when none is)."""
    rows = await conn.fetch(Q.finished_operations, list(operation_ids))
    return {row["id"] for row in rows}, max((int(row["last_event_id"]) for row in rows), default=0)
