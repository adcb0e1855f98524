"""Webhook endpoints, their deliveries and tries, and where fan-out stands, in PostgreSQL."""

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


class EndpointRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    url: str
    event_types: list[str]
    secret: str
    created_at: datetime


class DeliveryRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    operation_id: uuid.UUID
    event_id: int
    event_type: str
    status: str
    tries: int
    next_try_at: datetime | None
    retry_until: datetime
    created_at: datetime
    updated_at: datetime


class AttemptRow(msgspec.Struct, frozen=True):
    delivery_id: uuid.UUID
    attempted_at: datetime
    status_code: int | None
    error: str | None
    response_body: str | None
    duration_ms: int


class FanoutState(msgspec.Struct, frozen=True):
    cursor: int
    mark_id: int | None
    mark_xmax: int | None


class EventTarget(msgspec.Struct, frozen=True):
    event_id: int
    account_sid: str
    operation_id: uuid.UUID
    type: str
    endpoint_id: uuid.UUID | None
    url: str


class NewDelivery(msgspec.Struct, frozen=True):
    id: uuid.UUID
    target: EventTarget
    body: str


class ClaimedDelivery(msgspec.Struct, frozen=True):
    id: uuid.UUID
    event_id: int
    event_type: str
    url: str
    body: str
    tries: int
    retry_until: datetime
    secret: str | None


class TryRecord(msgspec.Struct, frozen=True):
    """One try's outcome and what it makes of the delivery."""

    id: uuid.UUID
    delivery_id: uuid.UUID
    status_code: int | None
    error: str | None
    response_body: str | None
    duration_ms: int
    delivery_status: str
    next_try_at: datetime | None


# Endpoints ----------------------------------------------------------------------------------


async def lock_account_endpoints(conn: asyncpg.Connection, account_sid: str) -> None:
    await conn.execute(Q.lock_account_endpoints, account_sid)


async def count_endpoints(conn: Connection, account_sid: str) -> int:
    value: int = await conn.fetchval(Q.count_endpoints, account_sid)
    return value


async def insert_endpoint(
    conn: Connection,
    *,
    endpoint_id: uuid.UUID,
    account_sid: str,
    url: str,
    event_types: Sequence[str],
    secret: str,
    now: datetime,
) -> EndpointRow:
    row = await conn.fetchrow(
        Q.insert_endpoint, endpoint_id, account_sid, url, list(event_types), secret, now
    )
    return EndpointRow(**dict(row))


async def list_endpoints(
    conn: Connection, account_sid: str, after: uuid.UUID | None, limit: int
) -> list[EndpointRow]:
    rows = await conn.fetch(Q.list_endpoints, account_sid, after, limit)
    return [EndpointRow(**dict(row)) for row in rows]


async def get_endpoint(
    conn: Connection, endpoint_id: uuid.UUID, account_sid: str
) -> EndpointRow | None:
    row = await conn.fetchrow(Q.get_endpoint, endpoint_id, account_sid)
    return None if row is None else EndpointRow(**dict(row))


async def delete_endpoint(conn: Connection, endpoint_id: uuid.UUID, account_sid: str) -> bool:
    return await conn.fetchval(Q.delete_endpoint, endpoint_id, account_sid) is not None


# Delivery log -------------------------------------------------------------------------------


class Target(msgspec.Struct, frozen=True):
    """Whose deliveries: an endpoint's, or (endpoint None) an operation's statusCallback's."""

    endpoint_id: uuid.UUID | None = None
    operation_id: uuid.UUID | None = None


async def list_deliveries(
    conn: Connection, target: Target, after: uuid.UUID | None, limit: int
) -> list[DeliveryRow]:
    if target.endpoint_id is not None:
        rows = await conn.fetch(Q.list_deliveries, target.endpoint_id, after, limit)
    else:
        rows = await conn.fetch(Q.list_callback_deliveries, target.operation_id, after, limit)
    return [DeliveryRow(**dict(row)) for row in rows]


async def operation_owned(conn: Connection, operation_id: uuid.UUID, account_sid: str) -> bool:
    return bool(await conn.fetchval(Q.operation_owned, operation_id, account_sid))


async def delivery_attempts(
    conn: Connection, delivery_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[AttemptRow]]:
    rows = await conn.fetch(Q.delivery_attempts, list(delivery_ids))
    attempts: dict[uuid.UUID, list[AttemptRow]] = {i: [] for i in delivery_ids}
    for row in rows:
        attempts[row["delivery_id"]].append(AttemptRow(**dict(row)))
    return attempts


async def redeliver(
    conn: Connection,
    delivery_id: uuid.UUID,
    target: Target,
    now: datetime,
    retry_until: datetime,
) -> DeliveryRow | None:
    if target.endpoint_id is not None:
        row = await conn.fetchrow(Q.redeliver, delivery_id, target.endpoint_id, now, retry_until)
    else:
        row = await conn.fetchrow(
            Q.redeliver_callback, delivery_id, target.operation_id, now, retry_until
        )
    return None if row is None else DeliveryRow(**dict(row))


# Fan-out ------------------------------------------------------------------------------------


async def try_fanout_lock(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(Q.try_fanout_lock))


async def fanout_unlock(conn: asyncpg.Connection) -> None:
    await conn.execute(Q.fanout_unlock)


async def fanout_state(conn: Connection) -> FanoutState:
    row = await conn.fetchrow(Q.fanout_state)
    return FanoutState(**dict(row))


async def save_fanout_mark(conn: Connection, mark_id: int, mark_xmax: int) -> None:
    await conn.execute(Q.save_fanout_mark, mark_id, mark_xmax)


async def advance_fanout(conn: Connection, cursor: int) -> None:
    await conn.execute(Q.advance_fanout, cursor)


async def event_targets(conn: Connection, after: int, upto: int) -> list[EventTarget]:
    rows = await conn.fetch(Q.event_targets, after, upto)
    return [EventTarget(**dict(row)) for row in rows]


async def insert_deliveries(
    conn: Connection, deliveries: Sequence[NewDelivery], now: datetime, retry_until: datetime
) -> None:
    if not deliveries:
        return
    await conn.execute(
        Q.insert_deliveries,
        [d.id for d in deliveries],
        [d.target.account_sid for d in deliveries],
        [d.target.endpoint_id for d in deliveries],
        [d.target.operation_id for d in deliveries],
        [d.target.event_id for d in deliveries],
        [d.target.type for d in deliveries],
        [d.target.url for d in deliveries],
        [d.body for d in deliveries],
        now,
        retry_until,
    )


# Sending ------------------------------------------------------------------------------------


async def claim_due_deliveries(
    conn: Connection, now: datetime, limit: int, lease_until: datetime
) -> list[ClaimedDelivery]:
    rows = await conn.fetch(Q.claim_due_deliveries, now, limit, lease_until)
    claimed = [ClaimedDelivery(**dict(row)) for row in rows]
    return sorted(claimed, key=lambda c: c.event_id)


async def insert_tries(conn: asyncpg.Connection, tries: Sequence[TryRecord], now: datetime) -> None:
    """Every try's row (the delivery log)."""
    fields = ("id", "delivery_id", "status_code", "error", "response_body", "duration_ms")
    await conn.execute(Q.record_attempts, *sql.columns(tries, *fields), now)


async def record_delivery_outcomes(
    conn: asyncpg.Connection, tries: Sequence[TryRecord], now: datetime, lease_until: datetime
) -> None:
    """Each try's delivery's new state (unless redelivered meanwhile)."""
    fields = ("delivery_id", "delivery_status", "next_try_at")
    await conn.execute(Q.record_delivery_outcomes, *sql.columns(tries, *fields), now, lease_until)


async def delete_operations_deliveries(
    conn: Connection, operation_ids: Sequence[uuid.UUID]
) -> None:
    await conn.execute(Q.delete_operations_deliveries, list(operation_ids))
