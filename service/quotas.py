"""Per-account request quotas for the API: one team's runaway client cannot crowd out others.

Each account may make `rate` requests a second on average and `burst` at once (GCRA, one
atomic Redis script, shared by every API process; Redis's clock, so theirs need not agree).
A request over the quota answers 429 (20429) with Retry-After, and costs nothing: it is
refused before any work. Provider callbacks are not accounts' requests and have no quota.
If Redis cannot be asked, or does not answer within CHECK_TIMEOUT_S, requests are let
through: the quota protects the service, and is not worth refusing or slowing requests for.
An outage is logged once every few seconds (service.outages), not once per request.
"""

from __future__ import annotations

import asyncio
import math

from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.outages import OutageLog

CHECK_TIMEOUT_S = 0.25

# ARGV: interval between requests (ms), tolerance (ms: interval x (burst - 1)).
# Returns 0 when the request may go (and counts it), else the ms until one may.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local interval = tonumber(ARGV[1])
local wait = tat - tonumber(ARGV[2]) - now
if wait > 0 then return math.ceil(wait) end
tat = tat + interval
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil(tat - now) + 1000)
return 0
"""


class RequestQuota:
    def __init__(
        self,
        redis: Redis,
        *,
        rate: float,
        burst: int,
        outages: OutageLog,
        prefix: str = "comms:quota:",
    ) -> None:
        self._take = redis.register_script(_TAKE)
        self._outages = outages
        self._prefix = prefix
        self._interval_ms = 1000.0 / rate if rate > 0 else 0.0
        self._tolerance_ms = self._interval_ms * (max(1, burst) - 1)

    @property
    def enabled(self) -> bool:
        return self._interval_ms > 0

    async def retry_after_s(self, account_sid: str) -> int | None:
        """None when the account may make this request (it is counted); else the whole
        seconds to wait before the next one may be."""
        if not self.enabled:
            return None
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                wait_ms = await self._take(
                    keys=[self._prefix + account_sid],
                    args=[self._interval_ms, self._tolerance_ms],
                )
        except (RedisError, OSError, TimeoutError) as exc:
            self._outages.failed("request quota not checked", exc)
            return None
        self._outages.answered()
        if not wait_ms:
            return None
        return max(1, math.ceil(int(wait_ms) / 1000))
