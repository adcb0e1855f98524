"""Per-sender rate limiting shared by every worker: atomic Redis scripts (GCRA).

Each sender has a "theoretical arrival time" (TAT) in Redis: the earliest moment its next
message may go. Reserving a batch hands out consecutive turns from the TAT, each message's
cost (segments / rate) apart, and moves the TAT past them; a worker whose sends ran late
pushes the TAT back by as much, so the spacing holds between the sends as they really leave.
Workers in any number reserve through the same key, so together they never exceed the rate;
time comes from Redis, so their clocks need not agree. One worker at a time paces a sender
(SenderLeases), which keeps its sends evenly spread rather than interleaving several
workers' jitter.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from redis.asyncio import Redis

# Sends are spaced this much wider than the rate: jitter of up to ~50 ms between our send and
# the provider's receipt (a busy machine) cannot put an extra send into a one-second window.
SPACING_MARGIN = 1.05
# A worker that asks a little late (its sleep overran) keeps its slot instead of losing the
# time: at most this much lateness (and never more than half a slot) is caught up.
CATCH_UP_MS = 5.0

_PUSH_BACK = """
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat == 0 then return 0 end
local after = tat + tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(after), 'PX', tonumber(redis.call('PTTL', KEYS[1])) +
  math.ceil(tonumber(ARGV[1])))
return 1
"""


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


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "comms:rate:") -> None:
        self._prefix = prefix
        self._reserve = redis.register_script(_RESERVE)
        self._push_back = redis.register_script(_PUSH_BACK)

    async def reserve(self, sender_key: str, rate: float, costs: Sequence[int]) -> list[float]:
        """Reserve the sender's next turns for a batch at once: seconds until each may go.

        For the one worker pacing a sender (see SenderLeases): a whole batch costs one round
        trip, and the times are kept locally, pushing the rest back when one send runs late.
        """
        now, slots = await self.reserve_slots(sender_key, rate, costs)
        return [slot - now for slot in slots]

    async def reserve_slots(
        self, sender_key: str, rate: float, costs: Sequence[int]
    ) -> tuple[float, list[float]]:
        """Redis's time now and the time (s) each message may go, in order."""
        if not costs:
            return 0.0, []
        interval_ms = 1000.0 * SPACING_MARGIN / rate
        now, *slots = await self._reserve(
            keys=[self._prefix + sender_key],
            args=[interval_ms, CATCH_UP_MS, *[max(1, c) for c in costs]],
        )
        return float(now) / 1000.0, [float(slot) / 1000.0 for slot in slots]

    async def push_back(self, sender_key: str, delay_s: float) -> None:
        """A granted send left late: move the sender's next turn back by as much.

        Spacing is then kept between the sends as they really leave, not as they were granted.
        """
        await self._push_back(keys=[self._prefix + sender_key], args=[delay_s * 1000.0])


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
