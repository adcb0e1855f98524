"""A batch of claimed messages, from claim to record: what the worker's send loop
(workers/dispatch.py) does between its provider calls.

prepare() settles what earlier attempts decided, refuses what cannot go (a disabled account,
an opted-out recipient, expired, a template that fails, a text too long) and records an
attempt SUBMITTING for each message about to be sent, in one transaction with marking it
sending. finish() records the answers
of the calls made and gives back what was not sent. Decisions are rules.py's; queries are
store.py's; the transactions are opened here.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import structlog

from service import db, error_codes, ids
from service.callbacks import logic as receipts
from service.sending import rules, store
from service.sending.channel import Channel, SendRequest, SendResult
from service.sending.records import (
    ClaimedMessage,
    EarlierAttempt,
    NewAttempt,
    OperationPlan,
    Outcome,
)
from service.suppressions import store as suppression_store

log = structlog.get_logger(__name__)

# Preparing a batch (rendering, building each request) and reading its results take a few
# milliseconds per ten messages: the pacers, on the same event loop, get a turn that often.
YIELD_EVERY = 10
# Attempts of a batch whose answers were lost are looked up at the provider this many at once.
LOOKUP_CONCURRENCY = 16


@dataclass
class Planned:
    """A message about to go to the provider, with its attempt."""

    message: ClaimedMessage
    attempt: NewAttempt
    request: SendRequest
    # Transient failures on this route before this attempt.
    failures: int
    expires: datetime

    @property
    def cost(self) -> int:
        """What the call costs the sender's rate: its segments."""
        return self.attempt.segments or 1


@dataclass
class Call:
    """A provider call that was made: when it started, and its answer."""

    sent_at: datetime
    result: SendResult


@dataclass
class Batch:
    operation_ids: list[uuid.UUID]
    # The claim's token (see migrations/0011) and the time.monotonic() past which none of the
    # batch's calls may start, the claim's lease being too near its end.
    claim: uuid.UUID
    send_by: float
    claimed: int = 0
    # When each message of to_send may go (time.monotonic()), once reserved.
    turns: list[float] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    to_send: list[Planned] = field(default_factory=list)


async def prepare(
    pool: asyncpg.Pool,
    channels: Mapping[str, Channel],
    claimed: list[ClaimedMessage],
    *,
    claim: uuid.UUID,
    send_by: float,
    now: datetime,
) -> Batch:
    """Everything up to the provider calls of a claimed batch."""
    operation_ids = list({m.operation_id for m in claimed})
    operations = await store.load_operations(pool, operation_ids)
    await store.start_operations(pool, operation_ids, now)
    history: dict[uuid.UUID, list[EarlierAttempt]] = defaultdict(list)
    for earlier in await store.earlier_attempts(pool, [m.id for m in claimed]):
        history[earlier.message_id].append(earlier)
    settled_before = await _settle_all_earlier(pool, channels, claimed, operations, history, now)

    # One query for the whole batch: a STOP that came after the accept is honoured here;
    # one that comes after this check cancels the message before mark_sending, or finds
    # it `sending` and leaves it to the provider (see suppressions' cancel_waiting_to).
    suppressed = await suppression_store.suppressed_pairs(
        pool,
        [(m.account_sid, rules.current_route(m, operations[m.operation_id]).to) for m in claimed],
    )

    batch = Batch(operation_ids=operation_ids, claim=claim, send_by=send_by, claimed=len(claimed))
    planned: list[Planned] = []
    rendered: list[tuple[uuid.UUID, dict[str, object], dict[str, str] | None]] = []
    for index, message in enumerate(claimed):
        if index % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)  # let the pacers start their sends on time
        operation = operations[message.operation_id]
        settled = settled_before.get(message.id)
        if settled is not None:
            batch.outcomes.append(settled)
            continue
        if operation.account_disabled:
            batch.outcomes.append(rules.account_suspended(message))
            continue
        if (message.account_sid, rules.current_route(message, operation).to) in suppressed:
            batch.outcomes.append(rules.opted_out(message, now))
            continue
        expires = rules.expires_at(message, operation)
        if now >= expires:
            batch.outcomes.append(rules.expired(message.id))
            continue
        try:
            filled = rules.render(operation.content, operation.tags, message.variables)
            rendered.append((message.id, filled.content, filled.tags))
            rules.check_length(filled)
        except rules.Refusal as refusal:
            batch.outcomes.append(Outcome.failed(message.id, refusal.code, refusal.text))
            continue
        attempt, request = rules.plan_attempt(
            message, operation, filled, expires, now, attempt_id=ids.uuid7()
        )
        failures = rules.transient_failures(message, history[message.id])
        planned.append(Planned(message, attempt, request, failures, expires))

    await store.store_rendered(pool, rendered)
    sendable = await _record_submitting(pool, [p.attempt for p in planned], now, claim)
    batch.to_send = [p for p in planned if p.message.id in sendable]
    return batch


async def _record_submitting(
    pool: asyncpg.Pool, attempts: Sequence[NewAttempt], now: datetime, claim: uuid.UUID
) -> set[uuid.UUID]:
    """Record the attempts about to be made; return the messages still sendable (not
    canceled, still under this claim)."""
    if not attempts:
        return set()
    async with pool.acquire() as conn, conn.transaction():
        sendable = await store.mark_sending(conn, [a.message_id for a in attempts], claim)
        await store.insert_attempts(conn, [a for a in attempts if a.message_id in sendable], now)
    return sendable


async def finish(
    pool: asyncpg.Pool,
    batch: Batch,
    calls: Sequence[Call | None],
    *,
    now: datetime,
    rng: random.Random,
    look_up_after_s: float,
) -> None:
    """Record the answers of the calls made (calls[i] for to_send[i]; None where no call was
    made), give back the messages none was made for, and complete the operations nothing is
    left of."""
    unsent: list[Planned] = []
    for index, (item, call) in enumerate(zip(batch.to_send, calls, strict=True)):
        if index % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)
        if call is None:
            unsent.append(item)
            continue
        answered = rules.Answered(
            item.message, item.attempt, call.result, call.sent_at, item.failures + 1, item.expires
        )
        batch.outcomes.append(rules.classify(answered, now, rng, look_up_after_s=look_up_after_s))
    if unsent:
        await store.release_unsent(pool, [u.attempt.id for u in unsent], now, batch.claim)
    try:
        await record_outcomes(pool, batch.outcomes, now, batch.claim)
    except asyncpg.UniqueViolationError:
        # An outcome names a provider SID another attempt has (a provider that gave two
        # sends one SID, or two lookups that adopted the same one): the others are recorded
        # one by one, so only that message waits for its lease and a lookup.
        for outcome in batch.outcomes:
            try:
                await record_outcomes(pool, [outcome], now, batch.claim)
            except asyncpg.UniqueViolationError:
                log.exception(
                    "a provider SID is another attempt's already; the message is looked up "
                    "again when its lease ends",
                    provider_sid=outcome.provider_sid,
                    message_id=str(outcome.message_id),
                )
    sids = [o.provider_sid for o in batch.outcomes if o.provider_sid is not None]
    await receipts.apply_early_receipts(pool, sids, now)
    await store.complete_operations(pool, batch.operation_ids, now)


async def record_outcomes(
    pool: asyncpg.Pool, outcomes: Sequence[Outcome], now: datetime, claim: uuid.UUID
) -> None:
    """Attempts first, then messages (those still under `claim`), then the fallbacks, each in
    id order, in one transaction; again when PostgreSQL broke a deadlock with a group of
    receipts (they lock attempts and messages in the same order, but a many-row UPDATE's
    order is the plan's)."""
    if not outcomes:
        return
    with_attempts = sorted(
        (o for o in outcomes if o.attempt_id is not None), key=lambda o: str(o.attempt_id)
    )
    by_message = sorted(outcomes, key=lambda o: str(o.message_id))
    fallbacks = [
        store.FallBack(o.message_id, o.route_index, o.next_due)
        for o in by_message
        if o.advance and o.next_due is not None
    ]

    async def transaction() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await store.record_attempt_outcomes(conn, with_attempts, now)
            await store.record_message_outcomes(conn, by_message, now, claim)
            await store.fall_back(conn, fallbacks, claim)

    await db.retry_deadlocks(transaction)


async def _settle_all_earlier(
    pool: asyncpg.Pool,
    channels: Mapping[str, Channel],
    claimed: list[ClaimedMessage],
    operations: dict[uuid.UUID, OperationPlan],
    history: dict[uuid.UUID, list[EarlierAttempt]],
    now: datetime,
) -> dict[uuid.UUID, Outcome]:
    """What earlier attempts decide, for every claimed message tried before. Looking an
    attempt up at the provider takes a round trip, and a worker that died leaves a whole
    batch of attempts to look up: they are asked LOOKUP_CONCURRENCY at a time."""
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def settle(message: ClaimedMessage) -> Outcome | None:
        settled, to_look_up = rules.settled_by_earlier(message, history[message.id])
        if settled is not None or not to_look_up:
            return settled
        async with gate:
            operation = operations[message.operation_id]
            return await _look_up(pool, channels, message, operation, to_look_up, now)

    tried = [m for m in claimed if history.get(m.id)]
    outcomes = await asyncio.gather(*(settle(m) for m in tried))
    return {m.id: o for m, o in zip(tried, outcomes, strict=True) if o is not None}


async def _look_up(
    pool: asyncpg.Pool,
    channels: Mapping[str, Channel],
    message: ClaimedMessage,
    operation: OperationPlan,
    submitting: list[EarlierAttempt],
    now: datetime,
) -> Outcome | None:
    """Attempts left SUBMITTING (their worker stopped mid-call, or the answer was lost): one
    the provider has settles the message; the others are closed as never submitted."""
    for attempt in submitting:
        try:
            text = rules.render(operation.content, operation.tags, message.variables).text
        except rules.Refusal:
            text = None
        candidates = await channels[attempt.channel].find_submitted(
            attempt_id=attempt.id,
            to=attempt.to_address,
            from_=attempt.from_address,
            since=attempt.attempted_at,
            body=text,
        )
        # A message another attempt owns is not this one's (the same text sent twice).
        owned = await store.owned_sids(pool, candidates)
        sid = next((c for c in candidates if c not in owned), None)
        if sid is not None:
            log.info("adopted a submission found at the provider", provider_sid=sid)
            return Outcome.handed_over(message.id, attempt.id, sid)
        # The provider never got it: close this attempt and let a new one go out.
        await store.close_lost_attempt(
            pool,
            attempt.id,
            error_codes.LOST.code,
            "The worker stopped before the provider answered; not submitted",
            now,
        )
    return None
