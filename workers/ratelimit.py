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

import uuid

import msgspec
from redis.asyncio import Redis

# Sends are spaced this much wider than the rate: jitter of up to ~50 ms between our send and
# the provider's receipt (a busy machine) cannot put an extra send into a one-second window.
SPACING_MARGIN = 1.05
# A worker that asks a little late (its sleep overran) keeps its slot instead of losing the
# time: at most this much lateness (and never more than half a slot) is caught up.
CATCH_UP_MS = 5.0

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > now then
  return {'0', tostring(tat - now), tostring(now)}
end
local interval = tonumber(ARGV[1])
local catch_up = math.min(tonumber(ARGV[3]), interval / 2)
local base = now
if now - tat <= catch_up then base = tat end
local after = base + interval * tonumber(ARGV[2])
redis.call('SET', KEYS[1], tostring(after), 'PX', math.ceil(after - now) + 1000)
return {'1', '0', tostring(now)}
"""


_PUSH_BACK = """
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat == 0 then return 0 end
local after = tat + tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(after), 'PX', tonumber(redis.call('PTTL', KEYS[1])) +
  math.ceil(tonumber(ARGV[1])))
return 1
"""


class Grant(msgspec.Struct, frozen=True):
    granted: bool
    wait_s: float
    at_s: float  # Redis time of the answer


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "comms:rate:") -> None:
        self._prefix = prefix
        self._acquire = redis.register_script(_ACQUIRE)
        self._push_back = redis.register_script(_PUSH_BACK)

    async def try_acquire(self, sender_key: str, rate: float, cost: int = 1) -> Grant:
        """Take the sender's next send now, or learn how long until it is free."""
        interval_ms = 1000.0 * SPACING_MARGIN / rate
        granted, wait_ms, now_ms = await self._acquire(
            keys=[self._prefix + sender_key], args=[interval_ms, max(1, cost), CATCH_UP_MS]
        )
        return Grant(granted == b"1" or granted == "1", float(wait_ms) / 1000, float(now_ms) / 1000)

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
