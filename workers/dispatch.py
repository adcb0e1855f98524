"""Handing due messages to providers: claim a batch, render, send, record every attempt."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
import structlog

from schemas.messages import MAX_TEXT
from service import ids
from service.clock import Clock
from service.dispatch import store
from service.dispatch.store import (
    ClaimedMessage,
    EarlierAttempt,
    NewAttempt,
    OperationPlan,
    Outcome,
)
from service.messages import templates
from service.messages.segments import count_segments
from service.senders import rates as sender_rates
from workers import retry
from workers.channels.base import Channel, SendRequest, SendResult
from workers.ratelimit import RateLimiter

log = structlog.get_logger(__name__)

CODE_EXPIRED = 30036
CODE_TOO_LONG = 21617
CODE_LOST = 30008


@dataclass
class Dispatcher:
    """Everything the send path needs, built once per worker process.

    Each sender with due messages is drained by its own loop, which claims only what the
    sender's rate allows within the claim horizon: a slow sender never holds up a fast one,
    and no worker holds more of a sender's queue than it can send before its lease ends.
    """

    pool: asyncpg.Pool
    channels: dict[str, Channel]
    clock: Clock
    limiter: RateLimiter | None = None
    unregistered_mps: float | None = None
    horizon_s: float = 2.0
    batch_size: int = 500
    lease_s: int = 60
    concurrency: int = 64
    rng: random.Random = field(default_factory=random.Random)
    _draining: set[str] = field(default_factory=set)
    _http_slots: asyncio.Semaphore | None = None

    async def run(self, operation_id: uuid.UUID | None = None) -> int:
        """Send until nothing (of this operation) is due; return the messages handled."""
        handled = 0
        while True:
            keys = await store.due_senders(self.pool, self.clock(), operation_id)
            keys = [key for key in keys if key not in self._draining]
            if not keys:
                return handled
            rates = await sender_rates.rates_for(self.pool, keys, self.unregistered_mps)
            counts = await asyncio.gather(
                *(self._drain(key, rates[key], operation_id) for key in keys)
            )
            handled += sum(counts)

    async def _drain(self, sender_key: str, rate: float, operation_id: uuid.UUID | None) -> int:
        """Claim and send one sender's due messages, a horizon's worth at a time."""
        self._draining.add(sender_key)
        handled = 0
        batches: set[asyncio.Task[None]] = set()
        try:
            while True:
                budget = self.batch_size
                if self.limiter is not None:
                    ahead = await self.limiter.reserved_ahead(sender_key)
                    if ahead > self.horizon_s / 2:
                        # Enough is reserved: claim more only when the sender nears it.
                        await asyncio.sleep(ahead - self.horizon_s / 2)
                        continue
                    budget = max(1, min(budget, int((self.horizon_s - ahead) * rate)))
                now = self.clock()
                claimed = await store.claim_due(
                    self.pool,
                    sender_key=sender_key,
                    now=now,
                    lease_until=now + timedelta(seconds=self.lease_s),
                    limit=budget,
                    operation_id=operation_id,
                )
                if not claimed:
                    break
                handled += len(claimed)
                batch = asyncio.create_task(self.send_batch(claimed, sender_key, rate))
                batches.add(batch)
                batch.add_done_callback(batches.discard)
                if self.limiter is None:
                    await batch
            await asyncio.gather(*batches)
        finally:
            self._draining.discard(sender_key)
        return handled

    async def send_batch(
        self, claimed: list[ClaimedMessage], sender_key: str = "", rate: float = 1.0
    ) -> None:
        now = self.clock()
        operation_ids = list({m.operation_id for m in claimed})
        operations = await store.load_operations(self.pool, operation_ids)
        await store.start_operations(self.pool, operation_ids, now)
        history: dict[uuid.UUID, list[EarlierAttempt]] = defaultdict(list)
        for earlier in await store.earlier_attempts(self.pool, [m.id for m in claimed]):
            history[earlier.message_id].append(earlier)

        outcomes: list[Outcome] = []
        to_send: list[tuple[ClaimedMessage, NewAttempt, SendRequest, int]] = []
        rendered: list[tuple[uuid.UUID, dict[str, object], dict[str, str] | None]] = []
        for message in claimed:
            operation = operations[message.operation_id]
            settled = await self._settle_earlier(message, operation, history[message.id], now)
            if settled is not None:
                outcomes.append(settled)
                continue
            expires = (message.scheduled_for or message.created_at) + timedelta(
                seconds=operation.validity_period
            )
            if now >= expires:
                outcomes.append(_ended(message, CODE_EXPIRED, "Message validity period expired"))
                continue
            content, tags = _render(operation, message)
            rendered.append((message.id, content, tags))
            text = content.get("text")
            if isinstance(text, str) and len(text) > MAX_TEXT:
                outcomes.append(
                    _ended(message, CODE_TOO_LONG, f"Rendered text exceeds {MAX_TEXT} characters")
                )
                continue
            attempt, request = self._prepare(message, operation, content, expires, now)
            failures = sum(1 for a in history[message.id] if a.provider_sid is None)
            to_send.append((message, attempt, request, failures))

        await store.store_rendered(self.pool, rendered)
        sendable = await store.record_submitting(self.pool, [a for _, a, _, _ in to_send], now)
        to_send = [item for item in to_send if item[0].id in sendable]
        delays = [0.0] * len(to_send)
        if self.limiter is not None and to_send:
            costs = [attempt.segments or 1 for _, attempt, _, _ in to_send]
            delays = await self.limiter.reserve(sender_key, rate, costs)
        if self._http_slots is None:
            self._http_slots = asyncio.Semaphore(self.concurrency)
        slots = self._http_slots
        started = time.monotonic()

        async def send_one(request: SendRequest, channel: Channel, delay: float) -> SendResult:
            # Wait for this message's slot in the sender's rate without holding a connection.
            wait = started + delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            async with slots:
                return await channel.send(request)

        results = await asyncio.gather(
            *(
                send_one(request, self.channels[attempt.channel], delay)
                for (_, attempt, request, _), delay in zip(to_send, delays, strict=True)
            )
        )
        done = self.clock()
        for (message, attempt, _, failures), result in zip(to_send, results, strict=True):
            expires = (message.scheduled_for or message.created_at) + timedelta(
                seconds=operations[message.operation_id].validity_period
            )
            outcomes.append(self._outcome(message, attempt, result, failures + 1, expires, done))
        await store.record_outcomes(self.pool, outcomes, done)
        await store.complete_operations(self.pool, operation_ids, done)

    def _prepare(
        self,
        message: ClaimedMessage,
        operation: OperationPlan,
        content: dict[str, object],
        expires: datetime,
        now: datetime,
    ) -> tuple[NewAttempt, SendRequest]:
        sender = operation.sender
        text = content.get("text")
        body = text if isinstance(text, str) else None
        segments = count_segments(body) if body is not None else None
        media = content.get("media")
        media_urls = [m["url"] for m in media] if isinstance(media, list) else []
        content_sid = content.get("contentId")
        attempt = NewAttempt(
            id=ids.uuid7(),
            message_id=message.id,
            operation_id=message.operation_id,
            account_sid=message.account_sid,
            channel=sender["channel"],
            from_address=sender["address"],
            to_address=message.address,
            segments=segments.segments if segments else None,
            encoding=segments.encoding if segments else None,
        )
        request = SendRequest(
            attempt_id=attempt.id,
            to=message.address,
            from_=sender["address"],
            body=body,
            media_urls=media_urls,
            content_sid=content_sid if isinstance(content_sid, str) else None,
            content_variables=message.variables if content_sid else None,
            validity_period=max(1, int((expires - now).total_seconds())),
        )
        return attempt, request

    async def _settle_earlier(
        self,
        message: ClaimedMessage,
        operation: OperationPlan,
        earlier: list[EarlierAttempt],
        now: datetime,
    ) -> Outcome | None:
        """Never send twice: an earlier attempt that reached the provider settles the message."""
        for attempt in earlier:
            if attempt.provider_sid is not None:
                return _handed(message, attempt.id, attempt.provider_sid)
        for attempt in earlier:
            if attempt.status != "SUBMITTING":
                continue
            channel = self.channels[operation.sender["channel"]]
            content, _ = _render(operation, message)
            body = content.get("text")
            sid = await channel.find_submitted(
                to=attempt.to_address,
                from_=attempt.from_address,
                since=attempt.attempted_at,
                body=body if isinstance(body, str) else None,
            )
            if sid is not None:
                log.info("adopted a submission found at the provider", provider_sid=sid)
                return _handed(message, attempt.id, sid)
            # The provider never got it: close this attempt and let a new one go out.
            await store.record_outcomes(
                self.pool,
                [
                    Outcome(
                        message.id,
                        attempt.id,
                        None,
                        "FAILED",
                        CODE_LOST,
                        "The worker stopped before the provider answered; not submitted",
                        now,
                        False,
                    )
                ],
                now,
            )
        return None

    def _outcome(
        self,
        message: ClaimedMessage,
        attempt: NewAttempt,
        result: SendResult,
        failures: int,
        expires: datetime,
        now: datetime,
    ) -> Outcome:
        if result.verdict == "ACCEPTED":
            return Outcome(
                message.id, attempt.id, result.provider_sid, result.status, None, None, None, False
            )
        if result.verdict == "PERMANENT":
            return Outcome(
                message.id,
                attempt.id,
                result.provider_sid,
                "FAILED",
                result.error_code,
                result.error_message,
                None,
                True,
            )
        next_due = retry.next_try_at(now, failures, result.retry_after_s, self.rng)
        if result.verdict == "UNKNOWN":
            # Leave the attempt SUBMITTING: the next claim asks the provider before resending.
            return Outcome(message.id, attempt.id, None, "SUBMITTING", None, None, next_due, False)
        if next_due >= expires:
            return Outcome(
                message.id,
                attempt.id,
                None,
                "FAILED",
                CODE_EXPIRED,
                f"Message validity period expired after: {result.error_message}",
                None,
                True,
            )
        return Outcome(
            message.id,
            attempt.id,
            None,
            "FAILED",
            result.error_code,
            result.error_message,
            next_due,
            False,
        )


def _render(
    operation: OperationPlan, message: ClaimedMessage
) -> tuple[dict[str, object], dict[str, str] | None]:
    content: dict[str, object] = dict(operation.content)
    text = content.get("text")
    if isinstance(text, str):
        content["text"] = templates.render(text, message.variables)
    tags = None
    if any(templates.is_template(value) for value in operation.tags.values()):
        tags = {k: templates.render(v, message.variables) for k, v in operation.tags.items()}
    return content, tags


def _ended(message: ClaimedMessage, code: int, text: str) -> Outcome:
    return Outcome(message.id, None, None, "FAILED", code, text, None, True)


def _handed(message: ClaimedMessage, attempt_id: uuid.UUID, provider_sid: str) -> Outcome:
    return Outcome(message.id, attempt_id, provider_sid, "QUEUED", None, None, None, False)
