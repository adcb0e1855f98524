"""The shared per-sender limiter: several workers together never exceed a sender's rate."""

from __future__ import annotations

import asyncio
import itertools

from redis.asyncio import Redis

from workers.ratelimit import SPACING_MARGIN, RateLimiter, SenderLeases


async def test_reservations_from_many_workers_never_crowd(redis: Redis) -> None:
    rate = 50.0
    workers = [RateLimiter(redis) for _ in range(4)]
    calls = [w.reserve_slots("SMS:+15017122661", rate, [1] * 25) for w in workers * 3]
    slots = sorted(slot for _, batch in await asyncio.gather(*calls) for slot in batch)
    assert len(slots) == 300
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) >= SPACING_MARGIN / rate - 1e-6
    for i, start in enumerate(slots):  # no one-second window holds more than the rate
        assert sum(1 for s in slots[i:] if s < start + 1.0) <= rate


async def test_cost_is_in_segments(redis: Redis) -> None:
    _, slots = await RateLimiter(redis).reserve_slots("SMS:+15017122662", 10.0, [3, 1, 2])
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(slots)]
    assert gaps == [round(3 * SPACING_MARGIN / 10, 6), round(SPACING_MARGIN / 10, 6)]


async def test_a_late_send_pushes_the_next_turns_back(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    _, first = await limiter.reserve_slots("SMS:+15017122663", 1.0, [1])
    await limiter.push_back("SMS:+15017122663", 0.5)
    _, second = await limiter.reserve_slots("SMS:+15017122663", 1.0, [1])
    assert round(second[0] - first[0], 3) == round(SPACING_MARGIN + 0.5, 3)


async def test_senders_do_not_share_a_budget(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    await limiter.reserve("SMS:slow", 1.0, [1] * 5)
    assert await limiter.reserve("SMS:fast", 100.0, [1]) == [0.0]


async def test_one_pacer_per_sender(redis: Redis) -> None:
    first, second = SenderLeases(redis), SenderLeases(redis)
    assert await first.acquire("SMS:+15017122664")
    assert not await second.acquire("SMS:+15017122664")
    assert not await second.renew("SMS:+15017122664")
    assert await first.renew("SMS:+15017122664")
    await second.release("SMS:+15017122664")  # not its lease: nothing happens
    assert not await second.acquire("SMS:+15017122664")
    await first.release("SMS:+15017122664")
    assert await second.acquire("SMS:+15017122664")
