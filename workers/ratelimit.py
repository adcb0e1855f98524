"""Per-sender rate limiting shared by every worker: one atomic Redis script (GCRA).

Each sender has a "theoretical arrival time" (TAT) in Redis: the moment its next segment may
go. Reserving n messages returns, for each, how long to wait before sending it, and moves the
TAT forward by each message's cost (segments / rate). Workers in any number reserve through
the same key, so together they never exceed the rate; time comes from Redis, so their clocks
need not agree.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

# Sends are spaced this much wider than the rate, so a send the event loop runs a little late
# can never squeeze one extra into any one-second window at the receiver.
SPACING_MARGIN = 1.03

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local interval = tonumber(ARGV[1])
local slots = {tostring(now)}
for i = 2, #ARGV do
  slots[#slots + 1] = tostring(tat)
  tat = tat + interval * tonumber(ARGV[i])
end
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil(tat - now) + 60000)
return slots
"""

_AHEAD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then return '0' end
return tostring(tat - now)
"""


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "comms:rate:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._reserve = redis.register_script(_RESERVE)
        self._ahead = redis.register_script(_AHEAD)

    async def reserve(self, sender_key: str, rate: float, costs: Sequence[int]) -> list[float]:
        """Seconds each message must wait before it is sent, in order."""
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
            keys=[self._prefix + sender_key], args=[interval_ms, *[max(1, c) for c in costs]]
        )
        return float(now) / 1000.0, [float(slot) / 1000.0 for slot in slots]

    async def reserved_ahead(self, sender_key: str) -> float:
        """Seconds of sending already reserved for this sender beyond now."""
        ahead = await self._ahead(keys=[self._prefix + sender_key])
        return float(ahead) / 1000.0
