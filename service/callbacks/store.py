"""Receipts applied to attempts and messages."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from service import sql
from service.callbacks.statuses import ATTEMPT_MOVES_FROM, MESSAGE_MOVES_FROM

Q = sql.load(__file__)


async def apply_receipt(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    attempt_id: uuid.UUID | None,
    provider_sid: str | None,
    status: str,
    error_code: int | None,
    error_message: str | None,
    now: datetime,
) -> bool:
    """Move the attempt (and its message) forward to status; False when nothing moved."""
    moved = await conn.fetchval(
        Q.apply_receipt,
        attempt_id,
        provider_sid,
        status,
        error_code,
        error_message,
        now,
        list(ATTEMPT_MOVES_FROM[status]),
        status,
        list(MESSAGE_MOVES_FROM[status]),
    )
    return moved is not None
