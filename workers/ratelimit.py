"""Per-sender rate limiting shared by every worker: one atomic Redis script (GCRA).

Each sender has a "theoretical arrival time" (TAT) in Redis: the earliest moment its next
message may go. A worker asks just before each provider call; when the TAT has passed the call
may go and the TAT moves to now + cost / rate, else the worker waits the time left and asks
again. Spacing is measured from the moment of each granted send, so a send that runs late
pushes the next one back instead of letting two go close together. Workers in any number ask
through the same key, so together they never exceed the rate; time comes from Redis, so their
clocks need not agree.
"""

from __future__ import annotations

import msgspec
from redis.asyncio import Redis

# Sends are spaced this much wider than the rate, so jitter between our send and the
# provider's receipt can never put one extra send into any one-second window there.
SPACING_MARGIN = 1.02

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > now then
  return {'0', tostring(tat - now), tostring(now)}
end
local after = now + tonumber(ARGV[1]) * tonumber(ARGV[2])
redis.call('SET', KEYS[1], tostring(after), 'PX', math.ceil(after - now) + 1000)
return {'1', '0', tostring(now)}
"""


class Grant(msgspec.Struct, frozen=True):
    granted: bool
    wait_s: float
    at_s: float  # Redis time of the answer


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "comms:rate:") -> None:
        self._prefix = prefix
        self._acquire = redis.register_script(_ACQUIRE)

    async def try_acquire(self, sender_key: str, rate: float, cost: int = 1) -> Grant:
        """Take the sender's next send now, or learn how long until it is free."""
        interval_ms = 1000.0 * SPACING_MARGIN / rate
        granted, wait_ms, now_ms = await self._acquire(
            keys=[self._prefix + sender_key], args=[interval_ms, max(1, cost)]
        )
        return Grant(granted == b"1" or granted == "1", float(wait_ms) / 1000, float(now_ms) / 1000)
