"""Receipts applied to attempts and messages."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from service import sql
from service.callbacks.statuses import ATTEMPT_MOVES_FROM, MESSAGE_MOVES_FROM

Q = sql.load(__file__)


class Applied(msgspec.Struct, frozen=True):
    """A receipt moved a message: of this operation, and onto its next route if fallback."""

    operation_id: uuid.UUID
    fallback: bool


async def apply_receipt(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    attempt_id: uuid.UUID | None,
    provider_sid: str | None,
    status: str,
    error_code: int | None,
    error_message: str | None,
    now: datetime,
) -> Applied | None:
    """Move the attempt (and its message) forward to status; None when nothing moved."""
    moved = await conn.fetchrow(
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
    return Applied(moved["operation_id"], moved["fallback"]) if moved else None


class EarlyReceipt(msgspec.Struct, frozen=True):
    provider_sid: str
    status: str
    error_code: int | None
    error_message: str | None
    received_at: datetime


async def keep_early_receipt(
    conn: asyncpg.Connection | asyncpg.Pool, receipt: EarlyReceipt
) -> bool:
    """Keep a receipt for a sid no attempt has yet; False when one has it by now."""
    kept = await conn.fetchval(
        Q.keep_early_receipt,
        receipt.provider_sid,
        receipt.status,
        receipt.error_code,
        receipt.error_message,
        receipt.received_at,
    )
    return kept is not None


async def take_early_receipts(
    conn: asyncpg.Connection | asyncpg.Pool, provider_sids: list[str]
) -> list[EarlyReceipt]:
    rows = await conn.fetch(Q.take_early_receipts, provider_sids)
    return [EarlyReceipt(**dict(row)) for row in rows]
