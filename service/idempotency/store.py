"""Idempotency keys in PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from service import sql

Q = sql.load(__file__)


class KeyRow(msgspec.Struct, frozen=True):
    request_hash: bytes
    state: str
    operation_id: uuid.UUID | None
    created_at: datetime


async def claim_key(
    conn: asyncpg.Pool | asyncpg.Connection,
    account_sid: str,
    key: str,
    digest: bytes,
    now: datetime,
) -> bool:
    return await conn.fetchval(Q.claim_key, account_sid, key, digest, now) is not None


async def get_key(
    conn: asyncpg.Pool | asyncpg.Connection, account_sid: str, key: str
) -> KeyRow | None:
    row = await conn.fetchrow(Q.get_key, account_sid, key)
    return KeyRow(**dict(row)) if row else None


async def drop_expired_key(
    conn: asyncpg.Pool | asyncpg.Connection, account_sid: str, key: str, before: datetime
) -> None:
    await conn.execute(Q.drop_expired_key, account_sid, key, before)


async def release_key(conn: asyncpg.Pool | asyncpg.Connection, account_sid: str, key: str) -> None:
    await conn.execute(Q.release_key, account_sid, key)


async def complete_key(
    conn: asyncpg.Connection, account_sid: str, key: str, operation_id: uuid.UUID
) -> None:
    await conn.execute(Q.complete_key, account_sid, key, operation_id)


async def purge_expired(
    conn: asyncpg.Pool | asyncpg.Connection, before: datetime, limit: int
) -> int:
    result = await conn.execute(Q.purge_expired, before, limit)
    return int(result.split()[-1])
