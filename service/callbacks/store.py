"""Receipts applied to attempts and messages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec

from schemas.messages import AttemptStatus
from service import sql
from service.sending.statuses import ATTEMPT_MOVES_FROM, MESSAGE_MOVES_FROM, MESSAGE_STATUS_OF
from service.sending.store import FallBack

Q = sql.load(__file__)


class Receipt(msgspec.Struct, frozen=True):
    """A provider's report on one attempt: by our attempt id, its sid, or both."""

    attempt_id: uuid.UUID | None
    provider_sid: str | None
    status: AttemptStatus
    error_code: int | None
    error_message: str | None
    received_at: datetime


class Applied(msgspec.Struct, frozen=True):
    """A receipt moved a message: of this operation, and onto its next route if fallback."""

    operation_id: uuid.UUID
    fallback: bool


class Moved(msgspec.Struct, frozen=True):
    """What apply_receipts did with one receipt's message: moved its status, or (fall_back
    set) left it for the caller to move on to its next route."""

    operation_id: uuid.UUID
    fall_back: FallBack | None


class ResolvedAttempt(msgspec.Struct, frozen=True):
    attempt_id: uuid.UUID
    message_id: uuid.UUID
    # When its provider call was made (the callback lag is measured from it).
    attempted_at: datetime


async def resolve_attempts(
    conn: asyncpg.Connection | asyncpg.Pool, receipts: Sequence[Receipt]
) -> dict[int, ResolvedAttempt]:
    """The attempt and message of each receipt that names a known attempt, by position."""
    rows = await conn.fetch(
        Q.resolve_attempts,
        list(range(len(receipts))),
        [r.attempt_id for r in receipts],
        [r.provider_sid for r in receipts],
    )
    return {
        row["ordinal"]: ResolvedAttempt(row["attempt_id"], row["message_id"], row["attempted_at"])
        for row in rows
    }


async def apply_receipts(
    conn: asyncpg.Connection, receipts: Sequence[tuple[uuid.UUID, Receipt]]
) -> list[Moved | None]:
    """Move each (attempt, receipt) forward, at most one per message; for each, what moved.
    In a transaction that then applies the fallbacks."""
    rows = await conn.fetch(
        Q.apply_receipts,
        list(range(len(receipts))),
        [attempt_id for attempt_id, _ in receipts],
        [r.provider_sid for _, r in receipts],
        [r.status for _, r in receipts],
        [r.error_code for _, r in receipts],
        [r.error_message for _, r in receipts],
        [_MOVES_FROM[r.status][0] for _, r in receipts],
        [_MOVES_FROM[r.status][1] for _, r in receipts],
        [r.received_at for _, r in receipts],
    )
    moved: list[Moved | None] = [None] * len(receipts)
    for row in rows:
        fall_back = None
        if row["message_id"] is not None:
            fall_back = FallBack(row["message_id"], row["route_index"], row["received_at"])
        moved[row["ordinal"]] = Moved(row["operation_id"], fall_back)
    return moved


# Per attempt status: what the attempt, and what its message, may move from (as SQL lists).
_MOVES_FROM = {
    status: (
        ",".join(ATTEMPT_MOVES_FROM[status]),
        ",".join(MESSAGE_MOVES_FROM[MESSAGE_STATUS_OF[status]]),
    )
    for status in ATTEMPT_MOVES_FROM
}


async def trace_of_provider_sid(conn: asyncpg.Connection | asyncpg.Pool, sid: str) -> str | None:
    traceparent: str | None = await conn.fetchval(Q.trace_of_provider_sid, sid)
    return traceparent


async def keep_early_receipt(conn: asyncpg.Connection | asyncpg.Pool, receipt: Receipt) -> bool:
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
) -> list[Receipt]:
    rows = await conn.fetch(Q.take_early_receipts, provider_sids)
    return [
        Receipt(
            attempt_id=None,
            provider_sid=row["provider_sid"],
            status=row["status"],
            error_code=row["error_code"],
            error_message=row["error_message"],
            received_at=row["received_at"],
        )
        for row in rows
    ]
