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
