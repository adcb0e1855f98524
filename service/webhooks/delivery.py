"""Webhook delivery: fan events out to their targets, then send what is due, signed.

Both run in the worker (workers/webhooks.py), never in the send or receipt path: the triggers
only write event rows. Fan-out follows the events table by id up to a settled mark
(service/events/logic.py), so no event is skipped or fanned out twice, and records a delivery
per (event, target) with the CloudEvent body, in the transaction that moves its cursor.
Sending claims due deliveries with a lease, POSTs them (one target's in event order, targets
side by side), and records every try; failures are tried again with backoff
(service/webhooks/retries.py) until the retry window ends.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import asyncpg
import httpx
import msgspec
import structlog

from schemas.events import EVENT_TYPE_PREFIX
from service import ids
from service.events import logic as events
from service.events import store as event_store
from service.metrics.counters import WebhookDeliveries
from service.webhooks import retries, store
from service.webhooks.destinations import RefusedAddress, RefusedDestination, check_destination
from service.webhooks.signing import signed_headers

log = structlog.get_logger(__name__)

FANOUT_BATCH_EVENTS = 2000
RESPONSE_KEPT_BYTES = 1024


async def fan_out(
    pool: asyncpg.Pool,
    *,
    base_url: str,
    now: datetime,
    retry_window: timedelta,
    batch_events: int = FANOUT_BATCH_EVENTS,
    max_batches: int = 50,
) -> int:
    """Record the deliveries of events settled since the last run; return how many.

    One process at a time (a session advisory lock); another finds it taken and returns 0.
    """
    created = 0
    async with pool.acquire() as conn:
        if not await store.try_fanout_lock(conn):
            return 0
        try:
            for _ in range(max_batches):
                state = await store.fanout_state(conn)
                if state.mark_id is not None and state.mark_xmax is not None:
                    mark = events.Mark(state.mark_id, state.mark_xmax)
                else:
                    mark = await events.take_mark(conn)
                    if mark.last_id <= state.cursor:
                        break
                    await store.save_fanout_mark(conn, mark.last_id, mark.xmax)
                if not await events.is_settled(conn, mark):
                    break
                upto = min(mark.last_id, state.cursor + batch_events)
                deliveries = await _deliveries_of(conn, state.cursor, upto, base_url)
                async with conn.transaction():
                    await store.insert_deliveries(conn, deliveries, now, now + retry_window)
                    await store.advance_fanout(conn, upto)
                created += len(deliveries)
        finally:
            await store.fanout_unlock(conn)
    return created


async def _deliveries_of(
    conn: asyncpg.Connection, after: int, upto: int, base_url: str
) -> list[store.NewDelivery]:
    targets = await store.event_targets(conn, after, upto)
    if not targets:
        return []
    rows = await event_store.events_by_id(conn, sorted({t.event_id for t in targets}))
    bodies = {
        row.id: msgspec.json.encode(events.render_event(row, base_url)).decode() for row in rows
    }
    return [
        store.NewDelivery(ids.uuid7(), target, bodies[target.event_id])
        for target in targets
        if target.event_id in bodies
    ]


class TryOutcome(msgspec.Struct, frozen=True):
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None
    duration_ms: int = 0
    retry_after_s: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def deliver_due(
    pool: asyncpg.Pool,
    client: httpx.AsyncClient,
    *,
    now: datetime,
    rng: random.Random,
    allow_loopback: bool,
    limit: int = 200,
    concurrency: int = 16,
    lease: timedelta = timedelta(minutes=2),
    monotonic: Callable[[], float] = time.monotonic,
    counts: WebhookDeliveries | None = None,
) -> int:
    """Send the deliveries due now (up to `limit`) and record every try; return how many.
    `counts` is told each try's outcome once it is recorded."""
    lease_until = now + lease
    claimed = await store.claim_due_deliveries(pool, now, limit, lease_until)
    if not claimed:
        return 0
    by_target: dict[str, list[store.ClaimedDelivery]] = defaultdict(list)
    for delivery in claimed:
        by_target[delivery.url].append(delivery)
    gate = asyncio.Semaphore(concurrency)
    outcomes: dict[object, TryOutcome] = {}

    async def send_in_order(deliveries: list[store.ClaimedDelivery]) -> None:
        async with gate:
            for delivery in deliveries:
                outcomes[delivery.id] = await send_one(
                    client, delivery, now, allow_loopback, monotonic
                )

    await asyncio.gather(*(send_in_order(group) for group in by_target.values()))
    records = [record_try(delivery, outcomes[delivery.id], now, rng) for delivery in claimed]
    await record_tries(pool, records, now, lease_until)
    if counts is not None:
        for delivery, record in zip(claimed, records, strict=True):
            counts.observe(EVENT_TYPE_PREFIX + delivery.event_type, record.delivery_status)
    return len(claimed)


async def record_tries(
    pool: asyncpg.Pool, tries: Sequence[store.TryRecord], now: datetime, lease_until: datetime
) -> None:
    """Every try's row and its delivery's new state, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await store.insert_tries(conn, tries, now)
        await store.record_delivery_outcomes(conn, tries, now, lease_until)


def record_try(
    delivery: store.ClaimedDelivery, outcome: TryOutcome, now: datetime, rng: random.Random
) -> store.TryRecord:
    next_try_at = None
    if outcome.succeeded:
        status = "SUCCEEDED"
    else:
        next_try_at = retries.next_try_at(
            now, delivery.tries + 1, outcome.retry_after_s, delivery.retry_until, rng
        )
        status = "PENDING" if next_try_at is not None else "FAILED"
    return store.TryRecord(
        id=ids.uuid7(),
        delivery_id=delivery.id,
        status_code=outcome.status_code,
        error=outcome.error,
        response_body=outcome.response_body,
        duration_ms=outcome.duration_ms,
        delivery_status=status,
        next_try_at=next_try_at,
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    if response.status_code in (429, 503) and value.strip().isdigit():
        return float(value.strip())
    return None


async def send_one(
    client: httpx.AsyncClient,
    delivery: store.ClaimedDelivery,
    now: datetime,
    allow_loopback: bool,
    monotonic: Callable[[], float] = time.monotonic,
) -> TryOutcome:
    """One signed POST; the outcome, never an exception (bar cancellation)."""
    if delivery.secret is None:
        return TryOutcome(error="no signing secret (the operation or endpoint is gone)")
    try:
        await check_destination(delivery.url, allow_loopback=allow_loopback, must_resolve=True)
    except RefusedDestination as exc:
        return TryOutcome(error=str(exc))
    body = delivery.body.encode()
    headers = signed_headers(
        delivery.secret, ids.encode(ids.DELIVERY, delivery.id), int(now.timestamp()), body
    )
    started = monotonic()
    try:
        async with client.stream("POST", delivery.url, content=body, headers=headers) as answer:
            kept = bytearray()
            async for chunk in answer.aiter_bytes():
                kept += chunk
                if len(kept) >= RESPONSE_KEPT_BYTES:
                    break
            return TryOutcome(
                status_code=answer.status_code,
                response_body=kept[:RESPONSE_KEPT_BYTES].decode("utf-8", "replace") or None,
                duration_ms=_elapsed_ms(monotonic, started),
                retry_after_s=_retry_after(answer),
            )
    except httpx.HTTPError as exc:
        return TryOutcome(error=_failure(exc), duration_ms=_elapsed_ms(monotonic, started))
    except Exception as exc:
        # The receiver is anyone's server: an answer the transport cannot even map to an httpx
        # error is this try's failure, recorded and retried, not the batch's (whose other
        # deliveries would then all be sent again when their lease ends).
        log.exception("webhook delivery failed unexpectedly", url=delivery.url)
        return TryOutcome(
            error=f"unexpected: {type(exc).__name__}", duration_ms=_elapsed_ms(monotonic, started)
        )


def _failure(exc: httpx.HTTPError) -> str:
    """What a failed try records. The innermost cause says it best: the aiohttp transport
    reports every failure to connect as a ConnectTimeout, a refused address included."""
    cause: BaseException = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    if isinstance(cause, RefusedAddress):
        return str(cause)
    if isinstance(cause, TimeoutError) or (
        isinstance(exc, httpx.TimeoutException) and not isinstance(cause, OSError)
    ):
        return "timeout"
    return f"{type(cause).__name__}: {str(cause)[:200]}"


def _elapsed_ms(monotonic: Callable[[], float], started: float) -> int:
    return int((monotonic() - started) * 1000)
