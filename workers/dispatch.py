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
from service.callbacks import logic as receipts
from service.clock import Clock
from service.dispatch import store
from service.dispatch.store import (
    ClaimedMessage,
    EarlierAttempt,
    NewAttempt,
    OperationPlan,
    Outcome,
)
from service.errors import CODE_TEMPLATE_RENDER
from service.messages import templates
from service.messages.segments import message_segments
from service.metrics.counters import ProviderCalls
from service.senders import rates as sender_rates
from service.suppressions import logic as suppressions
from service.suppressions import store as suppression_store
from workers import retry
from workers.channels.base import Channel, SendRequest, SendResult
from workers.ratelimit import RateLimiter, Send, SenderLeases, SendWindow

log = structlog.get_logger(__name__)

CODE_EXPIRED = 30036
CODE_TOO_LONG = 21617
CODE_LOST = 30008
# The event loop cannot sleep for less than about a millisecond (epoll's resolution): a turn
# closer than that goes now rather than a millisecond late. (At 1,000 msg/s and above the
# turns are that close; a window of one second still holds only its reserved turns.)
SLEEP_GRANULARITY_S = 0.001
# Preparing a batch (rendering, building each request) and reading its results take a few
# milliseconds per ten messages: the pacers, on the same event loop, get a turn that often.
YIELD_EVERY = 10
# Attempts of a batch whose answers were lost are looked up at the provider this many at once.
LOOKUP_CONCURRENCY = 16
# A claim's lease must outlast every call made under it, so that a worker taking the claim
# over once it ends finds each of those calls finished and known to the provider: no call
# starts later than the longest a call may take (call_timeout_s) plus this margin before the
# lease ends. The margin covers the difference between the workers' clocks.
LEASE_MARGIN_S = 2.0


@dataclass
class _Planned:
    """A message about to go to the provider, with its attempt."""

    message: ClaimedMessage
    attempt: NewAttempt
    request: SendRequest
    failures: int
    expires: datetime


@dataclass
class _Batch:
    operation_ids: list[uuid.UUID]
    # The claim's token (see migrations/0011) and the time.monotonic() past which none of the
    # batch's calls may start, the claim's lease being too near its end.
    claim: uuid.UUID
    send_by: float
    claimed: int = 0
    # When each message of to_send may go (time.monotonic()), once reserved.
    turns: list[float] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    to_send: list[_Planned] = field(default_factory=list)


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
    leases: SenderLeases | None = None
    provider_calls: ProviderCalls | None = None
    unregistered_mps: float | None = None
    horizon_s: float = 2.0
    batch_size: int = 500
    lease_s: int = 60
    call_timeout_s: float = 10.0
    # How long one run() goes on claiming: a job ends well within arq's job timeout (which
    # would cancel it mid-batch), and the next tick's job carries on where it stopped.
    run_for_s: float = 240.0
    concurrency: int = 64
    rng: random.Random = field(default_factory=random.Random)
    # Set by stop(): no more claims or sends; what was claimed and not sent is given back.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _draining: set[str] = field(default_factory=set)
    _http_slots: asyncio.Semaphore | None = None

    def __post_init__(self) -> None:
        if self.lease_s - self.call_timeout_s - LEASE_MARGIN_S < self.horizon_s:
            raise ValueError(
                f"CLAIM_LEASE_S ({self.lease_s}) must exceed PROVIDER_TIMEOUT_S "
                f"({self.call_timeout_s}) + {LEASE_MARGIN_S} + CLAIM_HORIZON_S "
                f"({self.horizon_s}): a claim's lease must outlast the calls made under it"
            )

    async def run(self, operation_id: uuid.UUID | None = None) -> int:
        """Send until nothing is left that this worker can claim, or for about run_for_s;
        return the messages handled.

        With an operation, only the senders it uses are drained (all of their due messages, of
        any operation, in due order: a sender's queue is one queue). Senders another worker is
        pacing, and messages leased to another worker, are left to them.
        """
        handled = 0
        until = time.monotonic() + self.run_for_s
        while not self.stopping.is_set():
            keys = await store.due_senders(self.pool, self.clock(), operation_id)
            keys = [key for key in keys if key not in self._draining]
            if not keys:
                return handled
            rates = await sender_rates.rates_for(self.pool, keys, self.unregistered_mps)
            counts = await asyncio.gather(*(self._drain(key, rates[key], until) for key in keys))
            if not any(counts):
                return handled
            handled += sum(counts)
            if time.monotonic() >= until:
                break  # the next tick's run carries on
        return handled

    def stop(self) -> None:
        """Stop sending, for a graceful shutdown: calls already made are answered and recorded,
        and the messages claimed but not sent yet are given back at once, due now for another
        worker (no provider lookup, no wait for their lease to end)."""
        self.stopping.set()

    async def _drain(self, sender_key: str, rate: float, until: float) -> int:
        """Claim and send one sender's due messages, a horizon's worth of its rate at a time.

        Provider calls are paced one by one through the shared limiter; while the calls of
        one batch finish and are recorded, the next batch is already being claimed and paced.
        No batch is claimed after `until` (the first always is).
        """
        if self.leases is not None and not await self.leases.acquire(sender_key):
            return 0  # another worker paces this sender now
        self._draining.add(sender_key)
        handled = 0
        finishing: list[asyncio.Task[None]] = []
        budget = self.batch_size
        if self.limiter is not None:
            budget = max(1, min(self.batch_size, int(rate * self.horizon_s)))
        renewed_at = time.monotonic()
        window: SendWindow | None = None

        async def claim_next() -> _Batch | None:
            # Measured before the claim is taken: the lease runs from no earlier than this.
            claimed_at = time.monotonic()
            now = self.clock()
            claim = uuid.uuid4()
            claimed = await store.claim_due(
                self.pool,
                sender_key=sender_key,
                now=now,
                lease_until=now + timedelta(seconds=self.lease_s),
                limit=budget,
                claim=claim,
            )
            if not claimed:
                return None
            send_by = claimed_at + self.lease_s - self.call_timeout_s - LEASE_MARGIN_S
            batch = await self._prepare_batch(claimed, claim, send_by)
            if self.limiter is not None and batch.to_send:
                # Reserved while the previous batch is still being paced, so its turns follow
                # straight on from that batch's last one.
                costs = [item.attempt.segments or 1 for item in batch.to_send]
                try:
                    delays = await self.limiter.reserve(sender_key, rate, costs)
                except Exception:
                    # No turns to be had (Redis is away): given back now rather than when
                    # its lease ends, with nothing to look up.
                    await self._finish_batch(batch, [])
                    raise
                batch.turns = [time.monotonic() + delay for delay in delays]
            return batch

        upcoming: asyncio.Task[_Batch | None] | None = None
        try:
            if self.limiter is not None:
                window = await self.limiter.take_over(sender_key, rate)
            upcoming = asyncio.create_task(claim_next())
            while upcoming is not None:
                batch = await upcoming
                upcoming = None
                if batch is None:
                    break
                handled += batch.claimed
                if self.stopping.is_set():
                    # Claimed but not paced: all of it given back, what it settled recorded.
                    finishing.append(asyncio.create_task(self._finish_batch(batch, [])))
                    break
                paced_by_another = False
                if self.leases is not None and time.monotonic() - renewed_at > 2.0:
                    # Lost when this worker was paused past the pacer lease: this batch is
                    # still its own (its claim says so), the sender's next ones are not.
                    paced_by_another = not await self.leases.renew(sender_key)
                    renewed_at = time.monotonic()
                if not paced_by_another and time.monotonic() < until:
                    # The next batch is claimed and prepared while this one is paced out, so
                    # the sender's turns follow each other without a gap between batches.
                    upcoming = asyncio.create_task(claim_next())
                calls = await self._pace(batch, window)
                finishing.append(asyncio.create_task(self._finish_batch(batch, calls)))
        finally:
            if upcoming is not None:
                upcoming.cancel()  # claimed messages it held stay leased and come back later
            # Every call made is answered (each is bounded by call_timeout_s) and recorded
            # before the sender is handed over, whatever ended the drain.
            for failure in await asyncio.gather(*finishing, return_exceptions=True):
                if isinstance(failure, BaseException):
                    # Its messages stay leased and are taken up again when the lease ends;
                    # attempts left SUBMITTING are checked with the provider first.
                    log.error("recording a send batch failed", exc_info=failure)
            self._draining.discard(sender_key)
            try:
                if self.limiter is not None and window is not None:
                    await self.limiter.hand_over(sender_key, window)
            finally:
                if self.leases is not None:
                    await self.leases.release(sender_key)
        return handled

    async def _pace(
        self, batch: _Batch, window: SendWindow | None
    ) -> list[asyncio.Task[SendResult | None]]:
        """Start the batch's provider calls, each at its reserved turn in the sender's rate
        and no sooner than the sender's window allows (see workers.ratelimit). Calls not
        started (the worker is stopping, or the claim is too near its end) are not returned:
        _finish_batch gives their messages back."""
        if window is None or not batch.turns:
            return [asyncio.create_task(self._call(item, batch.send_by)) for item in batch.to_send]
        calls = []
        for item, turn in zip(batch.to_send, batch.turns, strict=True):
            cost = item.attempt.segments or 1
            allowed = await window.earliest(cost)
            at = window.spaced(max(turn, allowed), cost)
            now = time.monotonic()
            # A turn may be rounded to now; the window's time never is.
            if allowed > now or at - now > SLEEP_GRANULARITY_S:
                await asyncio.sleep(at - now)
            # Checked after the waits: nothing starts once stopped or past the claim's end.
            if self.stopping.is_set() or time.monotonic() >= batch.send_by:
                break
            calls.append(asyncio.create_task(self._call(item, batch.send_by, window.started(cost))))
        return calls

    async def _call(
        self, item: _Planned, send_by: float, send: Send | None = None
    ) -> SendResult | None:
        """One provider call, bounded by call_timeout_s; None when it was never started."""
        if self._http_slots is None:
            self._http_slots = asyncio.Semaphore(self.concurrency)
        channel = item.attempt.channel
        started: float | None = None
        result: SendResult | None = None
        try:
            async with self._http_slots:
                # A wait for a free connection can outlast the stop or the claim.
                if self.stopping.is_set() or time.monotonic() >= send_by:
                    return None
                started = time.monotonic()
                try:
                    async with asyncio.timeout(self.call_timeout_s):
                        result = await self.channels[channel].send(item.request)
                except TimeoutError:
                    # The provider may have taken it: the next claim looks it up first.
                    result = SendResult(
                        verdict="UNKNOWN",
                        error_message=f"no answer within {self.call_timeout_s} s",
                    )
                return result
        finally:
            answered = time.monotonic()
            if send is not None:
                send.finish(answered)
            if self.provider_calls is not None and started is not None:
                outcome = result.verdict if result is not None else "UNKNOWN"
                self.provider_calls.observe(channel, outcome, answered - started)

    async def _prepare_batch(
        self, claimed: list[ClaimedMessage], claim: uuid.UUID, send_by: float
    ) -> _Batch:
        now = self.clock()
        operation_ids = list({m.operation_id for m in claimed})
        operations = await store.load_operations(self.pool, operation_ids)
        await store.start_operations(self.pool, operation_ids, now)
        history: dict[uuid.UUID, list[EarlierAttempt]] = defaultdict(list)
        for earlier in await store.earlier_attempts(self.pool, [m.id for m in claimed]):
            history[earlier.message_id].append(earlier)
        settled_before = await self._settle_all_earlier(claimed, operations, history, now)

        # One query for the whole batch: a STOP that came after the accept is honoured here;
        # one that comes after this check cancels the message before mark_sending, or finds
        # it `sending` and leaves it to the provider (see suppressions' cancel_waiting_to).
        suppressed = await suppression_store.suppressed_pairs(
            self.pool,
            [(m.account_sid, current_route(m, operations[m.operation_id])["to"]) for m in claimed],
        )

        batch = _Batch(
            operation_ids=operation_ids, claim=claim, send_by=send_by, claimed=len(claimed)
        )
        planned: list[_Planned] = []
        rendered: list[tuple[uuid.UUID, dict[str, object], dict[str, str] | None]] = []
        for index, message in enumerate(claimed):
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # let the pacers start their sends on time
            operation = operations[message.operation_id]
            settled = settled_before.get(message.id)
            if settled is not None:
                batch.outcomes.append(settled)
                continue
            to = current_route(message, operation)["to"]
            if (message.account_sid, to) in suppressed:
                batch.outcomes.append(
                    _refused(
                        message, suppressions.CODE_OPTED_OUT, suppressions.OPTED_OUT_MESSAGE, now
                    )
                )
                continue
            expires = (message.scheduled_for or message.created_at) + timedelta(
                seconds=operation.validity_period
            )
            if now >= expires:
                batch.outcomes.append(
                    _ended(message, CODE_EXPIRED, "Message validity period expired")
                )
                continue
            try:
                content, tags = _render(operation, message)
            except templates.TemplateRenderError as exc:
                # These variables break the template (e.g. divided_by: 0): fail this one only.
                batch.outcomes.append(_ended(message, CODE_TEMPLATE_RENDER, f"Template: {exc}"))
                continue
            rendered.append((message.id, content, tags))
            text = content.get("text")
            if isinstance(text, str) and len(text) > MAX_TEXT:
                batch.outcomes.append(
                    _ended(message, CODE_TOO_LONG, f"Rendered text exceeds {MAX_TEXT} characters")
                )
                continue
            attempt, request = self._prepare(message, operation, content, expires, now)
            failures = sum(
                1
                for a in history[message.id]
                if a.provider_sid is None and a.route_index == message.route_index
            )
            planned.append(_Planned(message, attempt, request, failures, expires))

        await store.store_rendered(self.pool, rendered)
        sendable = await store.record_submitting(
            self.pool, [p.attempt for p in planned], now, claim
        )
        batch.to_send = [p for p in planned if p.message.id in sendable]
        return batch

    async def _finish_batch(
        self, batch: _Batch, calls: list[asyncio.Task[SendResult | None]]
    ) -> None:
        """Record the answers of the calls made, give back the messages none was made for
        (the first len(calls) of to_send were started; the rest, and those whose call never
        started, were not), and complete the operations nothing is left of."""
        results = await asyncio.gather(*calls)
        results.extend([None] * (len(batch.to_send) - len(results)))
        done = self.clock()
        unsent: list[_Planned] = []
        for index, (item, result) in enumerate(zip(batch.to_send, results, strict=True)):
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            if result is None:
                unsent.append(item)
                continue
            batch.outcomes.append(
                self._outcome(
                    item.message, item.attempt, result, item.failures + 1, item.expires, done
                )
            )
        if unsent:
            await store.release_unsent(self.pool, [u.attempt.id for u in unsent], done, batch.claim)
        try:
            await store.record_outcomes(self.pool, batch.outcomes, done, batch.claim)
        except asyncpg.UniqueViolationError:
            # An outcome names a provider SID another attempt has (a provider that gave two
            # sends one SID, or two lookups that adopted the same one): the others are recorded
            # one by one, so only that message waits for its lease and a lookup.
            for outcome in batch.outcomes:
                try:
                    await store.record_outcomes(self.pool, [outcome], done, batch.claim)
                except asyncpg.UniqueViolationError:
                    log.exception(
                        "a provider SID is another attempt's already; the message is looked up "
                        "again when its lease ends",
                        provider_sid=outcome.provider_sid,
                        message_id=str(outcome.message_id),
                    )
        sids = [o.provider_sid for o in batch.outcomes if o.provider_sid is not None]
        await receipts.apply_early_receipts(self.pool, sids, done)
        await store.complete_operations(self.pool, batch.operation_ids, done)
        if self.provider_calls is not None:
            try:
                await self.provider_calls.flush()
            except Exception:  # metrics never cost a batch; the counts are lost, not the sends
                log.warning("could not add provider call counts to Redis", exc_info=True)

    def _prepare(
        self,
        message: ClaimedMessage,
        operation: OperationPlan,
        content: dict[str, object],
        expires: datetime,
        now: datetime,
    ) -> tuple[NewAttempt, SendRequest]:
        route = current_route(message, operation)
        text = content.get("text")
        body = text if isinstance(text, str) else None
        segments = message_segments(body, route["channel"], with_media=bool(content.get("media")))
        media = content.get("media")
        media_urls = [m["url"] for m in media] if isinstance(media, list) else []
        content_sid = content.get("contentId")
        attempt = NewAttempt(
            id=ids.uuid7(),
            message_id=message.id,
            operation_id=message.operation_id,
            account_sid=message.account_sid,
            channel=route["channel"],
            from_address=route["from"],
            to_address=route["to"],
            segments=segments.segments if segments else None,
            encoding=segments.encoding if segments else None,
            route_index=message.route_index,
        )
        request = SendRequest(
            attempt_id=attempt.id,
            to=route["to"],
            from_=route["from"],
            body=body,
            media_urls=media_urls,
            content_sid=content_sid if isinstance(content_sid, str) else None,
            content_variables=message.variables if content_sid else None,
            validity_period=max(1, int((expires - now).total_seconds())),
        )
        return attempt, request

    async def _settle_all_earlier(
        self,
        claimed: list[ClaimedMessage],
        operations: dict[uuid.UUID, OperationPlan],
        history: dict[uuid.UUID, list[EarlierAttempt]],
        now: datetime,
    ) -> dict[uuid.UUID, Outcome]:
        """_settle_earlier for every claimed message tried before. Looking an attempt up at
        the provider takes a round trip, and a worker that died leaves a whole batch of
        attempts to look up: they are asked LOOKUP_CONCURRENCY at a time, not one by one."""
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def settle(message: ClaimedMessage) -> Outcome | None:
            async with gate:
                operation = operations[message.operation_id]
                return await self._settle_earlier(message, operation, history[message.id], now)

        tried = [m for m in claimed if history.get(m.id)]
        outcomes = await asyncio.gather(*(settle(m) for m in tried))
        return {m.id: o for m, o in zip(tried, outcomes, strict=True) if o is not None}

    async def _settle_earlier(
        self,
        message: ClaimedMessage,
        operation: OperationPlan,
        earlier: list[EarlierAttempt],
        now: datetime,
    ) -> Outcome | None:
        """Never send twice: an earlier attempt on the current route that reached the provider
        settles the message (attempts on earlier routes belong to channels already given up)."""
        earlier = [a for a in earlier if a.route_index == message.route_index]
        for attempt in earlier:
            if attempt.provider_sid is not None:
                return _handed(message, attempt.id, attempt.provider_sid)
        for attempt in earlier:
            if attempt.status != "SUBMITTING":
                continue
            channel = self.channels[attempt.channel]
            content, _ = _render(operation, message)
            body = content.get("text")
            candidates = await channel.find_submitted(
                attempt_id=attempt.id,
                to=attempt.to_address,
                from_=attempt.from_address,
                since=attempt.attempted_at,
                body=body if isinstance(body, str) else None,
            )
            # A message another attempt owns is not this one's (the same text sent twice).
            owned = await store.owned_sids(self.pool, candidates)
            sid = next((c for c in candidates if c not in owned), None)
            if sid is not None:
                log.info("adopted a submission found at the provider", provider_sid=sid)
                return _handed(message, attempt.id, sid)
            # The provider never got it: close this attempt and let a new one go out.
            await store.close_lost_attempt(
                self.pool,
                attempt.id,
                CODE_LOST,
                "The worker stopped before the provider answered; not submitted",
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
            return _refused(
                message,
                result.error_code,
                result.error_message,
                now,
                attempt_id=attempt.id,
                provider_sid=result.provider_sid,
            )
        next_due = retry.next_try_at(now, failures, result.retry_after_s, self.rng)
        if result.verdict == "UNKNOWN":
            # Leave the attempt SUBMITTING: the next claim asks the provider before resending,
            # no sooner than a call may take, so a request still on its way is there to find.
            settled_by = now + timedelta(seconds=self.call_timeout_s + LEASE_MARGIN_S)
            next_due = max(next_due, settled_by)
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


def _refused(
    message: ClaimedMessage,
    code: int | None,
    text: str | None,
    now: datetime,
    *,
    attempt_id: uuid.UUID | None = None,
    provider_sid: str | None = None,
) -> Outcome:
    """Refused for good on this route (by the provider, or before any call when the recipient
    opted out): another channel that can still reach the recipient is tried now, if any."""
    if message.routes and message.route_index + 1 < len(message.routes):
        return Outcome(
            message.id, attempt_id, provider_sid, "FAILED", code, text, now, False, advance=True
        )
    return Outcome(message.id, attempt_id, provider_sid, "FAILED", code, text, None, True)


def _ended(message: ClaimedMessage, code: int, text: str) -> Outcome:
    return Outcome(message.id, None, None, "FAILED", code, text, None, True)


def _handed(message: ClaimedMessage, attempt_id: uuid.UUID, provider_sid: str) -> Outcome:
    return Outcome(message.id, attempt_id, provider_sid, "QUEUED", None, None, None, False)


def current_route(message: ClaimedMessage, operation: OperationPlan) -> dict[str, str]:
    """The (sender, recipient address) pair the message goes out on now."""
    if message.routes:
        return message.routes[message.route_index]
    # Messages stored before routes existed: the operation's one sender.
    return {
        "channel": operation.sender["channel"],
        "from": operation.sender["address"],
        "to": message.address,
    }
