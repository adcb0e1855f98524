"""Per-sender rate limiting: a shared schedule in Redis and a window anchored on answers.

Two rules together keep a sender at its rate as the provider counts it, never above it:

- **Turns (GCRA, shared).** Each sender has a "theoretical arrival time" (TAT) in Redis: the
  earliest moment its next message may go. Reserving a batch hands out consecutive turns from
  the TAT, each message's cost (segments / rate) apart. Every worker reserves through the same
  key, so together they never go faster than the rate; time comes from Redis, so their clocks
  need not agree. This keeps sends evenly spread.
- **Window (per pacer).** Evenly spread sends can still crowd one second at the provider: a
  request delayed on its way (a busy machine, a slow network) arrives close to the next ones.
  So a send may start only while the cost of the sends the provider may still count in the
  same second leaves room for it. A send stops counting a second after its *answer*: the
  provider stamped it before answering, and stamps the new one after it starts, so the two
  are a second apart in the provider's own count, whatever the delays in between, and with no
  clock shared with the provider. Each send holds its share of the rate for one second plus
  its own round trip, so the sender reaches rate / (1 + mean RTT); a slow answer holds only
  its own share, not the sends behind it.

One worker at a time paces a sender (SenderLeases), so the window is kept in that worker; when
the lease passes on, the last second of answers is handed over through Redis (in Redis time).
"""

from __future__ import annotations

import asyncio
import bisect
import math
import time
import uuid
from collections.abc import Callable, Sequence

import msgspec
from redis.asyncio import Redis

# A worker that asks a little late (its sleep overran) keeps its slot instead of losing the
# time: at most this much lateness (and never more than half a slot) is caught up.
CATCH_UP_MS = 5.0
# The provider counts sends per second.
WINDOW_S = 1.0
# Sends held back go out at least this fraction of their interval apart (twice the rate).
CATCH_UP_SPACING = 0.5

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local interval = tonumber(ARGV[1])
local catch_up = math.min(tonumber(ARGV[2]), interval / 2)
if now - tat > catch_up then tat = now end
local slots = {tostring(now)}
for i = 3, #ARGV do
  slots[#slots + 1] = tostring(tat)
  tat = tat + interval * tonumber(ARGV[i])
end
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil(tat - now) + 60000)
return slots
"""

# Hand over: ARGV is [age ms, cost, age ms, cost, ...]; answers are kept as Redis times.
_HAND_OVER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local sends = {}
for i = 1, #ARGV, 2 do
  sends[#sends + 1] = {now - tonumber(ARGV[i]), tonumber(ARGV[i + 1])}
end
redis.call('SET', KEYS[1], cjson.encode(sends), 'PX', 2000)
return 1
"""

_TAKE_OVER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
return {tostring(now), redis.call('GET', KEYS[1]) or '[]'}
"""


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "comms:rate:") -> None:
        self._prefix = prefix
        self._reserve = redis.register_script(_RESERVE)
        self._hand_over = redis.register_script(_HAND_OVER)
        self._take_over = redis.register_script(_TAKE_OVER)

    async def reserve(self, sender_key: str, rate: float, costs: Sequence[int]) -> list[float]:
        """Reserve the sender's next turns for a batch at once: seconds until each may go.

        For the one worker pacing a sender (see SenderLeases): a whole batch costs one round
        trip, and the times are kept locally.
        """
        now, slots = await self.reserve_slots(sender_key, rate, costs)
        return [slot - now for slot in slots]

    async def reserve_slots(
        self, sender_key: str, rate: float, costs: Sequence[int]
    ) -> tuple[float, list[float]]:
        """Redis's time now and the time (s) each message may go, in order."""
        if not costs:
            return 0.0, []
        now, *slots = await self._reserve(
            keys=[self._prefix + sender_key],
            args=[1000.0 / rate, CATCH_UP_MS, *[max(1, c) for c in costs]],
        )
        return float(now) / 1000.0, [float(slot) / 1000.0 for slot in slots]

    async def hand_over(self, sender_key: str, window: SendWindow) -> None:
        """Leave the last second of answered sends for whoever paces this sender next."""
        recent = window.hand_over()
        if not recent:
            return
        # Ages are measured before Redis reads its clock, so the answer times it stores are
        # no earlier than the real ones: the next pacer waits a little more, never less.
        before = window.now()
        args: list[float] = []
        for answered, cost in recent:
            args += [(before - answered) * 1000.0, cost]
        await self._hand_over(keys=[self._prefix + "window:" + sender_key], args=args)

    async def take_over(
        self, sender_key: str, rate: float, now: Callable[[], float] = time.monotonic
    ) -> SendWindow:
        """A window for a new pacer of this sender, holding what the last pacer handed over."""
        window = SendWindow(rate, now)
        redis_now, stored = await self._take_over(keys=[self._prefix + "window:" + sender_key])
        after = now()  # Redis read its clock before this: local answer times come out late
        for answered_ms, cost in msgspec.json.decode(stored, type=list[tuple[float, int]]):
            age = (float(redis_now) - answered_ms) / 1000.0
            window.add_answered(after - age, cost)
        return window


class Send:
    """One send in a pacer's window: its cost, and when its answer came back."""

    __slots__ = ("_window", "answered_at", "cost")

    def __init__(self, window: SendWindow, cost: int) -> None:
        self._window = window
        self.cost = cost
        self.answered_at: float | None = None

    def finish(self, at: float) -> None:
        """The provider answered (or the call was given up) at `at`."""
        if self.answered_at is None:
            self.answered_at = at
            self._window._answered(self)


class SendWindow:
    """One pacer's recent sends to a sender, for the window rule (see the module docstring).

    The provider may still count a send in the current second while it is unanswered or was
    answered less than WINDOW_S ago. A send of cost c starts only when those sends' costs and
    c together fit in the rate; then no second, as the provider counts, holds more than the
    rate: of any second's sends, the last to start found all the others still counting.
    Times are in the `now` clock (monotonic seconds).
    """

    def __init__(self, rate: float, now: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.now = now
        self._in_flight: set[Send] = set()
        self._in_flight_cost = 0
        self._recent: list[tuple[float, int]] = []  # (answered at, cost), in answer order
        self._recent_cost = 0
        self._an_answer = asyncio.Event()
        self._next_free = float("-inf")

    async def earliest(self, cost: int) -> float:
        """When a send of this cost may start (-inf: now); waits for answers while the sends
        in flight leave no room. A send costing more than the rate goes alone."""
        limit = max(self.rate, cost)
        while True:
            self._forget_before(self.now() - WINDOW_S)
            room = limit - self._in_flight_cost - cost
            if room >= 0:
                excess = self._recent_cost - room
                if excess <= 0:
                    return float("-inf")
                # Room comes as answered sends stop counting, oldest answer first.
                for answered_at, recent_cost in self._recent:
                    excess -= recent_cost
                    if excess <= 0:
                        return answered_at + WINDOW_S
            self._an_answer.clear()
            await self._an_answer.wait()

    def spaced(self, at: float, cost: int) -> float:
        """The time a send that may go at `at` goes: no sooner than half the rate's spacing
        (for the previous send's cost) after the previous send went.

        Sends the window held back go as soon as it lets them, and those a late wake-up
        delayed go at once, but no faster than twice the rate: a burst answers slower than
        the same sends spread out, which would hold the next ones back longer still. Only
        this short gap is kept, not the rate's full spacing: each send's room comes back a
        second after its answer, and answers come back unevenly, so a send that waits for
        the rate's spacing after room came back leaves the room unused, and the loss adds
        up over every second of the run."""
        goes = max(at, self._next_free)
        self._next_free = max(goes, self.now()) + cost / self.rate * CATCH_UP_SPACING
        return goes

    def started(self, cost: int) -> Send:
        """A send of this cost starts now; call finish() on the result when it is answered."""
        send = Send(self, cost)
        self._in_flight.add(send)
        self._in_flight_cost += cost
        return send

    def add_answered(self, at: float, cost: int) -> None:
        self.started(cost).finish(at)

    def hand_over(self) -> list[tuple[float, int]]:
        """(answer time, cost) of the sends a next pacer must still respect; a send not
        answered yet (the pacer was stopped) counts as answered now."""
        now = self.now()
        self._forget_before(now - WINDOW_S)
        return [*self._recent, *((now, send.cost) for send in self._in_flight)]

    def _answered(self, send: Send) -> None:
        assert send.answered_at is not None
        self._in_flight.discard(send)
        self._in_flight_cost -= send.cost
        bisect.insort(self._recent, (send.answered_at, send.cost))
        self._recent_cost += send.cost
        self._an_answer.set()

    def _forget_before(self, horizon: float) -> None:
        """Sends answered at or before the horizon no longer count."""
        stale = bisect.bisect_right(self._recent, (horizon, math.inf))
        if stale:
            self._recent_cost -= sum(cost for _, cost in self._recent[:stale])
            del self._recent[:stale]


_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class SenderLeases:
    """At most one worker at a time paces a given sender's queue.

    The limiter alone keeps the rate; a single pacer per sender also keeps the spacing even
    (several workers racing for each turn add their scheduling jitter to the receiver's view)
    and spares the others from polling. A lease a dead worker held runs out after ttl_s.
    """

    def __init__(self, redis: Redis, ttl_s: float = 10.0, prefix: str = "comms:pacer:") -> None:
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)
        self._prefix = prefix
        self._token = uuid.uuid4().hex
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self, sender_key: str) -> bool:
        taken = await self._redis.set(
            self._prefix + sender_key, self._token, nx=True, px=self._ttl_ms
        )
        return bool(taken)

    async def renew(self, sender_key: str) -> bool:
        renewed = await self._renew(
            keys=[self._prefix + sender_key], args=[self._token, self._ttl_ms]
        )
        return bool(renewed)

    async def release(self, sender_key: str) -> None:
        await self._release(keys=[self._prefix + sender_key], args=[self._token])
