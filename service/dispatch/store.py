"""The send queue in PostgreSQL: claiming due messages and recording what became of them."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from service import db, sql

Q = sql.load(__file__)


class ClaimedMessage(msgspec.Struct, frozen=True):
    id: uuid.UUID
    operation_id: uuid.UUID
    account_sid: str
    channel: str
    address: str
    variables: dict[str, str] | None
    scheduled_for: datetime | None
    created_at: datetime
    routes: list[dict[str, str]] | None = None
    route_index: int = 0


class OperationPlan(msgspec.Struct, frozen=True):
    id: uuid.UUID
    content: dict[str, Any]
    sender: dict[str, Any]
    tags: dict[str, str]
    validity_period: int


class EarlierAttempt(msgspec.Struct, frozen=True):
    id: uuid.UUID
    message_id: uuid.UUID
    channel: str
    status: str
    provider_sid: str | None
    from_address: str
    to_address: str
    attempted_at: datetime
    route_index: int


class NewAttempt(msgspec.Struct, frozen=True):
    id: uuid.UUID
    message_id: uuid.UUID
    operation_id: uuid.UUID
    account_sid: str
    channel: str
    from_address: str
    to_address: str
    segments: int | None
    encoding: str | None
    route_index: int = 0


class Outcome(msgspec.Struct, frozen=True):
    """What became of one message in a batch (with or without a provider attempt)."""

    message_id: uuid.UUID
    attempt_id: uuid.UUID | None
    provider_sid: str | None
    status: str
    error_code: int | None
    error_message: str | None
    next_due: datetime | None
    ends_message: bool
    # Move on to the message's next route (channel fallback), due at next_due.
    advance: bool = False


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
    return [ClaimedMessage(**dict(row)) for row in rows]


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


async def record_submitting(
    pool: asyncpg.Pool, attempts: Sequence[NewAttempt], now: datetime, claim: uuid.UUID
) -> set[uuid.UUID]:
    """Record the attempts about to be made; return the messages still sendable (not
    canceled, still under this claim)."""
    if not attempts:
        return set()
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(Q.mark_sending, [a.message_id for a in attempts], claim)
        sendable = {row["id"] for row in rows}
        attempts = [a for a in attempts if a.message_id in sendable]
        if attempts:
            await _insert_attempts(conn, attempts, now)
    return sendable


async def _insert_attempts(
    conn: asyncpg.Connection, attempts: Sequence[NewAttempt], now: datetime
) -> None:
    await conn.execute(
        Q.record_submitting,
        [a.id for a in attempts],
        [a.message_id for a in attempts],
        [a.operation_id for a in attempts],
        [a.account_sid for a in attempts],
        [a.channel for a in attempts],
        [a.from_address for a in attempts],
        [a.to_address for a in attempts],
        [a.segments for a in attempts],
        [a.encoding for a in attempts],
        [a.route_index for a in attempts],
        now,
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


async def record_outcomes(
    pool: asyncpg.Pool, outcomes: Sequence[Outcome], now: datetime, claim: uuid.UUID
) -> None:
    """Attempts first, then messages (those still under `claim`), each in id order, in one
    transaction; again when PostgreSQL broke a deadlock with a group of receipts (they lock
    attempts and messages in the same order, but a many-row UPDATE's order is the plan's)."""
    if not outcomes:
        return
    with_attempts = sorted(
        (o for o in outcomes if o.attempt_id is not None), key=lambda o: str(o.attempt_id)
    )
    by_message = sorted(outcomes, key=lambda o: str(o.message_id))
    await db.retry_deadlocks(
        functools.partial(_record_outcomes, pool, with_attempts, by_message, now, claim)
    )


async def _record_outcomes(
    pool: asyncpg.Pool,
    with_attempts: list[Outcome],
    by_message: list[Outcome],
    now: datetime,
    claim: uuid.UUID,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if with_attempts:
            await conn.execute(
                Q.record_attempt_outcomes,
                [o.attempt_id for o in with_attempts],
                [o.provider_sid for o in with_attempts],
                [o.status for o in with_attempts],
                [o.error_code for o in with_attempts],
                [o.error_message for o in with_attempts],
                now,
            )
        await conn.execute(
            Q.record_message_outcomes,
            [o.message_id for o in by_message],
            [o.status for o in by_message],
            [o.error_code for o in by_message],
            [o.error_message for o in by_message],
            [o.next_due for o in by_message],
            [o.ends_message for o in by_message],
            [o.advance for o in by_message],
            now,
            [o.attempt_id for o in by_message],
            claim,
        )


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
