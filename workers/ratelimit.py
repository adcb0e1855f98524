"""Per-sender rate limiting: a shared schedule in Redis and a window anchored on answers.

Two rules together keep a sender at its rate as the provider counts it, never above it:

- **Turns (GCRA, shared).** Each sender has a "theoretical arrival time" (TAT) in Redis: the
  earliest moment its next message may go. Reserving a batch hands out consecutive turns from
  the TAT, each message's cost (segments / rate) apart. Every worker reserves through the same
  key, so together they never go faster than the rate; time comes from Redis, so their clocks
  need not agree. This keeps sends evenly spread.
- **Window (per pacer).** Evenly spread sends can still crowd one second at the provider: a
  request delayed on its way (a busy machine, a slow network) arrives close to the next ones.
  So a send may start only when everything sent before it, beyond one second's worth of cost,
  was *answered* at least a second ago. The provider stamped a request before it answered it,
  and stamps the new one after it starts, so the two are a second apart in the provider's own
  count, whatever the delays in between, and with no clock shared with the provider. The cost
  is one round trip per second's worth of sends (rate x 1 / (1 + RTT)), not a fixed margin.

One worker at a time paces a sender (SenderLeases), so the window is kept in that worker; when
the lease passes on, the last second of answers is handed over through Redis (in Redis time).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec
from redis.asyncio import Redis

# A worker that asks a little late (its sleep overran) keeps its slot instead of losing the
# time: at most this much lateness (and never more than half a slot) is caught up.
CATCH_UP_MS = 5.0
# The provider counts sends per second.
WINDOW_S = 1.0

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


@dataclass(eq=False)
class Send:
    """One send in a pacer's window: its cost, and when its answer came back."""

    cost: int
    answered_at: float | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    def finish(self, at: float) -> None:
        """The provider answered (or the call was given up) at `at`."""
        self.answered_at = at
        self.answered.set()


class SendWindow:
    """One pacer's recent sends to a sender, for the window rule (see the module docstring).

    A send of cost c may start once every earlier send outside the newest `rate - c` of cost
    was answered at least WINDOW_S ago: then no second, as the provider counts, holds more
    than `rate` of cost. Times are in the `now` clock (monotonic seconds).
    """

    def __init__(self, rate: float, now: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.now = now
        self._open: deque[Send] = deque()  # oldest first; not yet folded into _floor
        self._open_cost = 0
        self._floor = float("-inf")  # the latest answer among the folded sends

    async def earliest(self, cost: int) -> float:
        """When a send of this cost may start; waits for answers it depends on."""
        horizon = self.now() - WINDOW_S
        while self._open:
            oldest = self._open[0]
            too_much = self._open_cost + cost > self.rate
            settled = oldest.answered_at is not None and oldest.answered_at <= horizon
            if not (too_much or settled):
                break
            await oldest.answered.wait()
            assert oldest.answered_at is not None
            self._open.popleft()
            self._open_cost -= oldest.cost
            self._floor = max(self._floor, oldest.answered_at)
        return self._floor + WINDOW_S

    def started(self, cost: int) -> Send:
        """A send of this cost starts now; call finish() on the result when it is answered."""
        send = Send(cost)
        self._open.append(send)
        self._open_cost += cost
        return send

    def add_answered(self, at: float, cost: int) -> None:
        self.started(cost).finish(at)

    def hand_over(self) -> list[tuple[float, int]]:
        """(answer time, cost) of the sends a next pacer must still respect.

        Sends already folded count as one send of a whole second's cost at the latest of their
        answers; a send not answered yet (the pacer was stopped) counts as answered now.
        """
        now = self.now()
        since = now - WINDOW_S
        kept = [(self._floor, math.ceil(self.rate))] if self._floor > since else []
        for send in self._open:
            answered = now if send.answered_at is None else send.answered_at
            if answered > since:
                kept.append((answered, send.cost))
        return kept


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
