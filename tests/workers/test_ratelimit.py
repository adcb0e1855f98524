"""The shared per-sender limiter: several workers together never exceed a sender's rate."""

from __future__ import annotations

import asyncio
import itertools

from redis.asyncio import Redis

from workers.ratelimit import SPACING_MARGIN, RateLimiter


async def test_reservations_from_many_workers_never_crowd(redis: Redis) -> None:
    workers = [RateLimiter(redis) for _ in range(4)]
    rate = 50.0
    calls = [w.reserve_slots("SMS:+15017122661", rate, [1] * 25) for w in workers * 3]
    results = await asyncio.gather(*calls)
    slots = sorted(slot for _, batch in results for slot in batch)
    assert len(slots) == 300
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) >= SPACING_MARGIN / rate - 1e-6
    # In any one-second window no more than `rate` messages are due.
    for i, start in enumerate(slots):
        inside = sum(1 for s in slots[i:] if s < start + 1.0)
        assert inside <= rate


async def test_cost_is_in_segments(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    _, slots = await limiter.reserve_slots("SMS:+15017122662", 10.0, [3, 1, 2])
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(slots)]
    assert gaps == [round(3 * SPACING_MARGIN / 10, 6), round(1 * SPACING_MARGIN / 10, 6)]


async def test_senders_do_not_share_a_budget(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    await limiter.reserve("SMS:slow", 1.0, [1] * 5)
    assert await limiter.reserved_ahead("SMS:slow") > 4
    assert await limiter.reserve("SMS:fast", 100.0, [1]) == [0.0]
