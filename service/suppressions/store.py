"""Suppression lists in PostgreSQL, and the waiting messages an opt-out cancels."""

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


class SuppressionRow(msgspec.Struct, frozen=True):
    address: str
    source: str
    id: uuid.UUID
    created_at: datetime


async def insert_suppressions(
    conn: Connection,
    *,
    account_sids: Sequence[str],
    address: str,
    ids: Sequence[uuid.UUID],
    source: str,
    now: datetime,
) -> list[SuppressionRow]:
    """Suppress the address for each account (one that has it already keeps its row); the
    accounts' rows."""
    rows = await conn.fetch(
        Q.insert_suppressions, list(account_sids), address, list(ids), source, now
    )
    return [SuppressionRow(**dict(row)) for row in rows]


async def delete_suppressions(
    conn: Connection, account_sids: Sequence[str], address: str
) -> list[str]:
    """The accounts that had the address suppressed (and no longer have)."""
    rows = await conn.fetch(Q.delete_suppressions, list(account_sids), address)
    return [row["account_sid"] for row in rows]


async def list_suppressions(
    conn: Connection, account_sid: str, address: str | None, after: uuid.UUID | None, limit: int
) -> list[SuppressionRow]:
    rows = await conn.fetch(Q.list_suppressions, account_sid, address, after, limit)
    return [SuppressionRow(**dict(row)) for row in rows]


async def suppressed_pairs(
    conn: Connection, pairs: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which (account, address) pairs are suppressed, in one query however many are asked."""
    if not pairs:
        return set()
    rows = await conn.fetch(Q.suppressed_pairs, [p[0] for p in pairs], [p[1] for p in pairs])
    return {(row["account_sid"], row["address"]) for row in rows}


async def suppressed_addresses(
    conn: Connection, account_sid: str, addresses: Sequence[str]
) -> set[str]:
    if not addresses:
        return set()
    rows = await conn.fetch(Q.suppressed_addresses, account_sid, list(addresses))
    return {row["address"] for row in rows}


async def accounts_of_sender(
    conn: Connection, sender_address: str, handset: str, channels: Sequence[str]
) -> list[str]:
    rows = await conn.fetch(Q.accounts_of_sender, sender_address, handset, list(channels))
    return sorted(row["account_sid"] for row in rows)


async def note_inbound_keyword(conn: Connection, message_sid: str, now: datetime) -> bool:
    """Whether this inbound message is new (False: it was applied already)."""
    return await conn.fetchval(Q.note_inbound_keyword, message_sid, now) is not None


async def purge_inbound_keywords(conn: Connection, before: datetime) -> None:
    await conn.execute(Q.purge_inbound_keywords, before)


async def cancel_waiting_to(
    conn: asyncpg.Connection, account_sids: Sequence[str], address: str, now: datetime
) -> set[uuid.UUID]:
    """Cancel the address's messages of these accounts not yet handed to a provider; return
    the operations they belong to."""
    rows = await conn.fetch(Q.cancel_waiting_to, list(account_sids), address, now)
    return {row["operation_id"] for row in rows}
