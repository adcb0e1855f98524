"""The send loop: claim → pace → call → record, per sender, with every decision and record
left to the sending aggregate (service/sending/batches.py and rules.py).

It owns what only a running worker has: sender leases, the rate limiter's turns, the HTTP
concurrency and deadlines of provider calls, and their metrics.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
import structlog

from service.clock import Clock
from service.metrics.counters import ProviderCalls
from service.senders import rates as sender_rates
from service.sending import batches, store
from service.sending.batches import Batch, Call, Planned
from service.sending.channel import Channel, SendResult
from workers.ratelimit import RateLimiter, Send, SenderLeases, SendWindow

log = structlog.get_logger(__name__)

# The event loop cannot sleep for less than about a millisecond (epoll's resolution): a turn
# closer than that goes now rather than a millisecond late. (At 1,000 msg/s and above the
# turns are that close; a window of one second still holds only its reserved turns.)
SLEEP_GRANULARITY_S = 0.001
# A claim's lease must outlast every call made under it, so that a worker taking the claim
# over once it ends finds each of those calls finished and known to the provider: no call
# starts later than the longest a call may take (call_timeout_s) plus this margin before the
# lease ends. The margin covers the difference between the workers' clocks.
LEASE_MARGIN_S = 2.0


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

        def claim_next() -> asyncio.Task[Batch | None]:
            return asyncio.create_task(self._claim(sender_key, rate, budget))

        upcoming: asyncio.Task[Batch | None] | None = None
        try:
            if self.limiter is not None:
                window = await self.limiter.take_over(sender_key, rate)
            upcoming = claim_next()
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
                    upcoming = claim_next()
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

    async def _claim(self, sender_key: str, rate: float, budget: int) -> Batch | None:
        """Claim up to `budget` of the sender's due messages, prepare them (batches.prepare)
        and reserve their turns in the sender's rate; None when none is due."""
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
        batch = await batches.prepare(
            self.pool, self.channels, claimed, claim=claim, send_by=send_by, now=self.clock()
        )
        if self.limiter is not None and batch.to_send:
            # Reserved while the previous batch is still being paced, so its turns follow
            # straight on from that batch's last one.
            try:
                delays = await self.limiter.reserve(
                    sender_key, rate, [item.cost for item in batch.to_send]
                )
            except Exception:
                # No turns to be had (Redis is away): given back now rather than when its
                # lease ends, with nothing to look up.
                await self._finish_batch(batch, [])
                raise
            batch.turns = [time.monotonic() + delay for delay in delays]
        return batch

    async def _pace(
        self, batch: Batch, window: SendWindow | None
    ) -> list[asyncio.Task[Call | None]]:
        """Start the batch's provider calls, each at its reserved turn in the sender's rate
        and no sooner than the sender's window allows (see workers.ratelimit). Calls not
        started (the worker is stopping, or the claim is too near its end) are not returned:
        _finish_batch gives their messages back."""
        if window is None or not batch.turns:
            return [asyncio.create_task(self._call(item, batch.send_by)) for item in batch.to_send]
        calls = []
        for item, turn in zip(batch.to_send, batch.turns, strict=True):
            cost = item.cost
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

    async def _call(self, item: Planned, send_by: float, send: Send | None = None) -> Call | None:
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
                sent_at = self.clock()
                try:
                    async with asyncio.timeout(self.call_timeout_s):
                        result = await self.channels[channel].send(item.request)
                except TimeoutError:
                    # The provider may have taken it: the next claim looks it up first.
                    result = SendResult(
                        verdict="UNKNOWN",
                        error_message=f"no answer within {self.call_timeout_s} s",
                    )
                return Call(sent_at, result)
        finally:
            answered = time.monotonic()
            if send is not None:
                send.finish(answered)
            if self.provider_calls is not None and started is not None:
                outcome = result.verdict if result is not None else "UNKNOWN"
                self.provider_calls.observe(channel, outcome, answered - started)

    async def _finish_batch(self, batch: Batch, calls: list[asyncio.Task[Call | None]]) -> None:
        """Record the answers of the calls made and give back the messages none was made for
        (the first len(calls) of to_send were started; the rest, and those whose call never
        started, were not)."""
        answers: list[Call | None] = list(await asyncio.gather(*calls))
        answers.extend([None] * (len(batch.to_send) - len(answers)))
        await batches.finish(
            self.pool,
            batch,
            answers,
            now=self.clock(),
            rng=self.rng,
            # A lost answer is looked up no sooner than a call may take, so a request still
            # on its way is there to find.
            look_up_after_s=self.call_timeout_s + LEASE_MARGIN_S,
        )
        if self.provider_calls is not None:
            try:
                await self.provider_calls.flush()
            except Exception:  # metrics never cost a batch; the counts are lost, not the sends
                log.warning("could not add provider call counts to Redis", exc_info=True)
