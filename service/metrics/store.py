"""Queue figures for /metrics, read from PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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


async def registered_sender_ids(
    pool: asyncpg.Pool, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], uuid.UUID]:
    """{(channel, address): sender id} for the pairs registered as senders."""
    rows = await pool.fetch(
        Q.registered_sender_ids,
        [channel for channel, _ in pairs],
        [address for _, address in pairs],
    )
    return {(r["channel"], r["address"]): r["id"] for r in rows}


async def scheduled_count(pool: asyncpg.Pool, now: datetime) -> int:
    count: int = await pool.fetchval(Q.scheduled_count, now)
    return count
