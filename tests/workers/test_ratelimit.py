"""The shared per-sender limiter: several workers together never exceed a sender's rate."""

from __future__ import annotations

import asyncio
import itertools

from redis.asyncio import Redis

from workers.ratelimit import CATCH_UP_MS, SPACING_MARGIN, RateLimiter


async def grab(
    limiter: RateLimiter,
    key: str,
    rate: float,
    cost: int,
    wanted: int,
    granted: list[tuple[float, int]],
) -> None:
    """Ask without pausing until `wanted` sends are granted (bounded: no sleeping in tests)."""
    got = 0
    for _ in range(200_000):
        grant = await limiter.try_acquire(key, rate, cost)
        if grant.granted:
            granted.append((grant.at_s, cost))
            got += 1
            if got == wanted:
                return
    raise AssertionError("limiter never granted")


async def test_many_workers_together_keep_the_spacing(redis: Redis) -> None:
    rate = 200.0
    granted: list[tuple[float, int]] = []
    workers = [RateLimiter(redis) for _ in range(4)]
    await asyncio.gather(*(grab(w, "SMS:+15017122661", rate, 1, 10, granted) for w in workers))
    times = sorted(at for at, _ in granted)
    assert len(times) == 40
    interval = SPACING_MARGIN / rate
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # An asker that came a little late may go up to CATCH_UP_MS early on the next turn...
    assert min(gaps) >= interval - min(CATCH_UP_MS / 1000, interval / 2) - 1e-4
    # ...but the sum over any stretch never beats the rate.
    assert times[-1] - times[0] >= (len(times) - 1) * interval - CATCH_UP_MS / 1000 - 1e-4


async def test_cost_is_in_segments(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    granted: list[tuple[float, int]] = []
    await grab(limiter, "SMS:+15017122662", 50.0, 3, 1, granted)
    await grab(limiter, "SMS:+15017122662", 50.0, 1, 1, granted)
    (first, _), (second, _) = granted
    # Three segments hold the sender for three slots (less what catch-up may give back).
    assert second - first >= 3 * SPACING_MARGIN / 50.0 - CATCH_UP_MS / 1000 - 1e-4


async def test_senders_do_not_share_a_budget(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    assert (await limiter.try_acquire("SMS:slow", 1.0)).granted
    waiting = await limiter.try_acquire("SMS:slow", 1.0)
    assert not waiting.granted
    assert 0.9 < waiting.wait_s <= SPACING_MARGIN
    assert (await limiter.try_acquire("SMS:fast", 100.0)).granted
