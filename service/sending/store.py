"""The send queue in PostgreSQL: claiming due messages and recording what became of them.

Every function runs on the connection it is given; the caller (service/sending/batches.py)
opens the transactions.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from service import sql
from service.sending.records import (
    ClaimedMessage,
    EarlierAttempt,
    NewAttempt,
    OperationPlan,
    Outcome,
)

Q = sql.load(__file__)


async def due_senders(
    conn: asyncpg.Pool | asyncpg.Connection, now: datetime, operation_id: uuid.UUID | None = None
) -> list[str]:
    if operation_id is None:
        rows = await conn.fetch(Q.due_senders, now)
    else:
        rows = await conn.fetch(Q.due_senders_of_operation, now, operation_id)
    return [row["sender_key"] for row in rows]


async def claim_due(
    conn: asyncpg.Pool | asyncpg.Connection,
    *,
    sender_key: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    claim: uuid.UUID,
) -> list[ClaimedMessage]:
    """Lease up to `limit` due messages of one sender under the token `claim`."""
    rows = await conn.fetch(Q.claim_due, now, limit, lease_until, sender_key, claim)
    return [msgspec.convert(dict(row), ClaimedMessage) for row in rows]


async def load_operations(
    conn: asyncpg.Pool | asyncpg.Connection, operation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, OperationPlan]:
    rows = await conn.fetch(Q.load_operations, list(operation_ids))
    return {row["id"]: OperationPlan(**dict(row)) for row in rows}


async def start_operations(
    conn: asyncpg.Pool | asyncpg.Connection, operation_ids: Sequence[uuid.UUID], now: datetime
) -> None:
    await conn.execute(Q.start_operations, sorted(operation_ids), now)


async def earlier_attempts(
    conn: asyncpg.Pool | asyncpg.Connection, message_ids: Sequence[uuid.UUID]
) -> list[EarlierAttempt]:
    rows = await conn.fetch(Q.earlier_attempts, list(message_ids))
    return [EarlierAttempt(**dict(row)) for row in rows]


async def mark_sending(
    conn: asyncpg.Connection, message_ids: Sequence[uuid.UUID], claim: uuid.UUID
) -> set[uuid.UUID]:
    """Lock the messages about to be sent; those still sendable (not canceled, still under
    this claim) come back. In the transaction that records their attempts."""
    rows = await conn.fetch(Q.mark_sending, list(message_ids), claim)
    return {row["id"] for row in rows}


async def insert_attempts(
    conn: asyncpg.Connection, attempts: Sequence[NewAttempt], now: datetime
) -> None:
    """Record attempts SUBMITTING, before their provider calls."""
    if not attempts:
        return
    await conn.execute(
        Q.record_submitting, *sql.columns(attempts, *NewAttempt.__struct_fields__), now
    )


async def store_rendered(
    conn: asyncpg.Pool | asyncpg.Connection,
    rendered: Sequence[tuple[uuid.UUID, dict[str, Any], dict[str, str] | None]],
) -> None:
    if not rendered:
        return
    await conn.execute(
        Q.store_rendered,
        [r[0] for r in rendered],
        [r[1] for r in rendered],
        [r[2] for r in rendered],
    )


async def record_attempt_outcomes(
    conn: asyncpg.Connection, outcomes: Sequence[Outcome], now: datetime
) -> None:
    """The provider's answers on their attempts (outcomes with one, sorted by attempt id)."""
    if not outcomes:
        return
    await conn.execute(
        Q.record_attempt_outcomes,
        *sql.columns(
            outcomes,
            "attempt_id",
            "provider_sid",
            "status",
            "error_code",
            "error_message",
            "sent_at",
        ),
        now,
    )


async def record_message_outcomes(
    conn: asyncpg.Connection, outcomes: Sequence[Outcome], now: datetime, claim: uuid.UUID
) -> None:
    """What became of the messages still under `claim` (sorted by message id); a fallback's
    move to the next route is fall_back's."""
    if not outcomes:
        return
    fields = ("message_id", "status", "error_code", "error_message", "next_due", "ends_message")
    await conn.execute(
        Q.record_message_outcomes, *sql.columns(outcomes, *fields, "attempt_id"), now, claim
    )


class FallBack(msgspec.Struct, frozen=True):
    """A message to move from the route it failed on to its next one, due then."""

    message_id: uuid.UUID
    route_index: int
    due_at: datetime


async def fall_back(
    conn: asyncpg.Pool | asyncpg.Connection,
    fallbacks: Sequence[FallBack],
    claim: uuid.UUID | None = None,
) -> set[uuid.UUID]:
    """Move each message on to its next route (the one query that does; see queries.sql);
    with a claim, only messages still under it. The messages moved come back."""
    if not fallbacks:
        return set()
    rows = await conn.fetch(
        Q.fall_back, *sql.columns(fallbacks, *FallBack.__struct_fields__), claim
    )
    return {row["id"] for row in rows}


async def complete_operations(
    conn: asyncpg.Pool | asyncpg.Connection, operation_ids: Sequence[uuid.UUID], now: datetime
) -> None:
    await conn.execute(Q.complete_operations, sorted(operation_ids), now)


async def find_conversation(
    conn: asyncpg.Pool | asyncpg.Connection, proxy_address: str, recipient_address: str
) -> str | None:
    sid: str | None = await conn.fetchval(Q.find_conversation, proxy_address, recipient_address)
    return sid


async def remember_conversation(
    conn: asyncpg.Pool | asyncpg.Connection,
    proxy_address: str,
    recipient_address: str,
    conversation_sid: str,
    now: datetime,
) -> str:
    """The conversation to use for the pair: this one, or one another worker stored first."""
    sid: str = await conn.fetchval(
        Q.remember_conversation, proxy_address, recipient_address, conversation_sid, now
    )
    return sid


async def owned_sids(conn: asyncpg.Pool | asyncpg.Connection, sids: Sequence[str]) -> set[str]:
    """Which of these provider sids an attempt already owns."""
    if not sids:
        return set()
    rows = await conn.fetch(Q.owned_sids, list(sids))
    return {row["provider_sid"] for row in rows}


async def release_unsent(
    pool: asyncpg.Pool, attempt_ids: Sequence[uuid.UUID], now: datetime, claim: uuid.UUID
) -> None:
    """Give back messages whose attempts were recorded but never started (see queries.sql)."""
    if attempt_ids:
        await pool.execute(Q.release_unsent, list(attempt_ids), now, claim)


async def close_lost_attempt(
    conn: asyncpg.Pool | asyncpg.Connection,
    attempt_id: uuid.UUID,
    code: int,
    message: str,
    now: datetime,
) -> None:
    await conn.execute(Q.close_lost_attempt, attempt_id, code, message, now)


async def replace_conversation(
    conn: asyncpg.Pool | asyncpg.Connection,
    proxy_address: str,
    recipient_address: str,
    unusable_sid: str,
    conversation_sid: str,
    now: datetime,
) -> str:
    """The conversation to use for the pair instead of one the provider no longer takes: this
    one, or the one another worker replaced it with first."""
    replaced: str | None = await conn.fetchval(
        Q.replace_conversation,
        proxy_address,
        recipient_address,
        unusable_sid,
        conversation_sid,
        now,
    )
    if replaced is not None:
        return replaced
    # Another worker's replacement stands, or no row is left: as for a first conversation.
    return await remember_conversation(
        conn, proxy_address, recipient_address, conversation_sid, now
    )
