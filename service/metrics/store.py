"""Queue figures for /metrics, read from PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from service import sql

Q = sql.load(__file__)


class SenderBacklog(msgspec.Struct, frozen=True):
    sender_key: str
    due: int
    oldest: datetime


async def sender_backlogs(pool: asyncpg.Pool, now: datetime) -> list[SenderBacklog]:
    rows = await pool.fetch(Q.sender_backlogs, now)
    return [SenderBacklog(r["sender_key"], r["due"], r["oldest"]) for r in rows]


async def scheduled_count(pool: asyncpg.Pool, now: datetime) -> int:
    count: int = await pool.fetchval(Q.scheduled_count, now)
    return count
