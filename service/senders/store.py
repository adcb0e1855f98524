"""Senders in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec

from service import sql

Q = sql.load(__file__)


class SenderRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    address: str
    channel: str
    kind: str
    mps: float
    created_at: datetime


async def insert_sender(
    conn: asyncpg.Pool | asyncpg.Connection,
    *,
    sender_id: uuid.UUID,
    account_sid: str,
    address: str,
    channel: str,
    kind: str,
    mps: float,
    now: datetime,
) -> SenderRow | None:
    """The new sender, or None when the account has this address on this channel already."""
    row = await conn.fetchrow(
        Q.insert_sender, sender_id, account_sid, address, channel, kind, mps, now
    )
    return SenderRow(**dict(row)) if row else None


async def get_sender(
    conn: asyncpg.Pool | asyncpg.Connection, sender_id: uuid.UUID, account_sid: str
) -> SenderRow | None:
    row = await conn.fetchrow(Q.get_sender, sender_id, account_sid)
    return SenderRow(**dict(row)) if row else None


async def find_sender(
    conn: asyncpg.Pool | asyncpg.Connection, account_sid: str, channel: str, address: str
) -> SenderRow | None:
    row = await conn.fetchrow(Q.find_sender, account_sid, channel, address)
    return SenderRow(**dict(row)) if row else None


async def list_senders(
    conn: asyncpg.Pool | asyncpg.Connection,
    account_sid: str,
    after: uuid.UUID | None,
    limit: int,
) -> list[SenderRow]:
    rows = await conn.fetch(Q.list_senders, account_sid, after, limit)
    return [SenderRow(**dict(row)) for row in rows]


async def delete_sender(
    conn: asyncpg.Pool | asyncpg.Connection, sender_id: uuid.UUID, account_sid: str
) -> bool:
    return await conn.fetchval(Q.delete_sender, sender_id, account_sid) is not None


async def registered_rates(
    conn: asyncpg.Pool | asyncpg.Connection, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], float]:
    """The lowest registered rate of each (channel, address) that any account registered."""
    if not pairs:
        return {}
    rows = await conn.fetch(Q.registered_rates, [p[0] for p in pairs], [p[1] for p in pairs])
    return {(row["channel"], row["address"]): float(row["mps"]) for row in rows}


class PoolRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    display_name: str
    sender_ids: list[uuid.UUID]
    is_default: bool
    created_at: datetime
    updated_at: datetime


async def senders_by_ids(
    conn: asyncpg.Pool | asyncpg.Connection, account_sid: str, sender_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, SenderRow]:
    rows = await conn.fetch(Q.senders_by_ids, account_sid, list(sender_ids))
    return {row["id"]: SenderRow(**dict(row)) for row in rows}


async def insert_pool(
    conn: asyncpg.Connection,
    *,
    pool_id: uuid.UUID,
    account_sid: str,
    display_name: str,
    sender_ids: list[uuid.UUID],
    is_default: bool,
    now: datetime,
) -> PoolRow:
    if is_default:
        await conn.execute(Q.clear_default_pool, account_sid, now)
    row = await conn.fetchrow(
        Q.insert_pool, pool_id, account_sid, display_name, sender_ids, is_default, now
    )
    return PoolRow(**dict(row))


async def update_pool(
    conn: asyncpg.Connection,
    *,
    pool_id: uuid.UUID,
    account_sid: str,
    display_name: str | None,
    sender_ids: list[uuid.UUID] | None,
    is_default: bool | None,
    now: datetime,
) -> PoolRow | None:
    if is_default:
        await conn.execute(Q.clear_default_pool, account_sid, now)
    row = await conn.fetchrow(
        Q.update_pool, pool_id, account_sid, display_name, sender_ids, is_default, now
    )
    return PoolRow(**dict(row)) if row else None


async def get_pool(
    conn: asyncpg.Pool | asyncpg.Connection, pool_id: uuid.UUID, account_sid: str
) -> PoolRow | None:
    row = await conn.fetchrow(Q.get_pool, pool_id, account_sid)
    return PoolRow(**dict(row)) if row else None


async def default_pool(conn: asyncpg.Pool | asyncpg.Connection, account_sid: str) -> PoolRow | None:
    row = await conn.fetchrow(Q.default_pool, account_sid)
    return PoolRow(**dict(row)) if row else None


async def list_pools(
    conn: asyncpg.Pool | asyncpg.Connection, account_sid: str, after: uuid.UUID | None, limit: int
) -> list[PoolRow]:
    rows = await conn.fetch(Q.list_pools, account_sid, after, limit)
    return [PoolRow(**dict(row)) for row in rows]


async def delete_pool(
    conn: asyncpg.Pool | asyncpg.Connection, pool_id: uuid.UUID, account_sid: str
) -> bool:
    return await conn.fetchval(Q.delete_pool, pool_id, account_sid) is not None
