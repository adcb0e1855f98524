"""The per-sender limiter: several workers together never exceed a sender's rate, and no
second as the provider counts it holds more than the rate, whatever the delays in between."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest
from redis.asyncio import Redis

from workers.ratelimit import RateLimiter, SenderLeases, SendWindow


async def test_reservations_from_many_workers_never_crowd(redis: Redis) -> None:
    rate = 50.0
    workers = [RateLimiter(redis) for _ in range(4)]
    calls = [w.reserve_slots("SMS:+15017122661", rate, [1] * 25) for w in workers * 3]
    slots = sorted(slot for _, batch in await asyncio.gather(*calls) for slot in batch)
    assert len(slots) == 300
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) >= 1 / rate - 1e-6
    for i, start in enumerate(slots):  # no one-second window holds more than the rate
        assert sum(1 for s in slots[i:] if s < start + 1.0) <= rate


async def test_cost_is_in_segments(redis: Redis) -> None:
    _, slots = await RateLimiter(redis).reserve_slots("SMS:+15017122662", 10.0, [3, 1, 2])
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(slots)]
    assert gaps == [0.3, 0.1]


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


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _most_in_a_second(received: list[tuple[float, int]]) -> int:
    received = sorted(received)
    return max(
        sum(cost for at, cost in received[i:] if at < start + 1.0)
        for i, (start, _) in enumerate(received)
    )


async def _simulate(
    rate: float, latencies: list[float], costs: list[int], rng: random.Random, window: bool
) -> tuple[list[tuple[float, int]], float]:
    """Sends paced at the rate's turns (and by the window when asked), each taking its latency
    to be answered and stamped by the provider at any moment in between; returns the
    provider's (stamp, cost) list and when the last send started."""
    clock = _Clock()
    pacer = SendWindow(rate, clock)
    turn, received = clock.t, []
    for latency, cost in zip(latencies, costs, strict=True):
        allowed = await pacer.earliest(cost) if window else turn
        clock.t = max(clock.t, turn, allowed)
        send = pacer.started(cost)
        send.finish(clock.t + latency)
        received.append((rng.uniform(clock.t, clock.t + latency), cost))
        turn = clock.t + cost / rate
    return received, clock.t


async def test_no_provider_second_holds_more_than_the_rate_whatever_the_delays() -> None:
    rng = random.Random(5)
    for rate in (1.0, 10.0, 50.0):
        count = int(rate * 20)
        latencies = [rng.choice([0.001, 0.002, 0.004, 0.05, 0.3]) for _ in range(count)]
        costs = [rng.choice([1, 1, 1, 2, 3]) if rate > 1 else 1 for _ in range(count)]
        received, _ = await _simulate(rate, latencies, costs, random.Random(1), window=True)
        assert _most_in_a_second(received) <= rate
        # The same delays with even spacing alone crowd some second: the window is what holds.
        crowded, _ = await _simulate(rate, latencies, costs, random.Random(1), window=False)
        assert _most_in_a_second(crowded) > rate


async def test_the_window_costs_one_round_trip_per_second() -> None:
    rate, rtt = 100.0, 0.002
    _, last = await _simulate(rate, [rtt] * 1000, [1] * 1000, random.Random(2), window=True)
    achieved = 999 / (last - 1000.0)
    assert rate / (1 + 2 * rtt) < achieved <= rate


async def test_a_slow_answer_holds_only_its_own_share() -> None:
    """One send in fifty takes 300 ms to answer: the sender loses about that send's share of
    the second, not a pause for every send behind it."""
    rate, fast, slow = 50.0, 0.002, 0.3
    latencies = [slow if n % 50 == 0 else fast for n in range(1000)]
    received, last = await _simulate(rate, latencies, [1] * 1000, random.Random(3), window=True)
    assert _most_in_a_second(received) <= rate
    mean_rtt = sum(latencies) / len(latencies)
    achieved = 999 / (last - 1000.0)
    # Holding every send behind each slow answer would give under 40 per second here.
    assert rate / (1 + 3 * mean_rtt) < achieved <= rate


async def test_a_send_waits_for_room_in_the_window() -> None:
    clock = _Clock()
    pacer = SendWindow(2.0, clock)
    first = pacer.started(1)
    second = pacer.started(1)
    waiting = asyncio.create_task(pacer.earliest(1))
    await asyncio.sleep(0)
    assert not waiting.done()  # two sends in flight fill a rate of 2: a third needs an answer
    first.finish(clock.t + 0.25)
    # The first counts for a second after its answer; the second, unanswered, still counts.
    assert await waiting == clock.t + 1.25
    second.finish(clock.t + 0.5)
    assert await pacer.earliest(2) == clock.t + 1.5  # room for two once both stop counting
    clock.t += 2.0
    assert await pacer.earliest(2) == float("-inf")


async def test_a_send_costing_more_than_the_rate_goes_alone() -> None:
    clock = _Clock()
    pacer = SendWindow(1.0, clock)
    pacer.started(1).finish(clock.t)
    assert await pacer.earliest(3) == clock.t + 1.0
    clock.t += 1.0
    pacer.started(3)
    waiting = asyncio.create_task(pacer.earliest(1))
    await asyncio.sleep(0)
    assert not waiting.done()


async def test_a_new_pacer_respects_what_the_last_one_sent(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    now = asyncio.get_running_loop().time  # monotonic, like the pacers' clocks
    old = SendWindow(2.0, now)
    answered = now()
    for _ in range(2):
        old.started(1).finish(answered)
    await limiter.hand_over("SMS:+15017122665", old)
    new = await limiter.take_over("SMS:+15017122665", 2.0, now)
    # Both answers count, no earlier than they really came: one more send waits a second.
    assert await new.earliest(1) >= answered + 1.0
    other = await limiter.take_over("SMS:+15017122666", 2.0)
    assert await other.earliest(2) == float("-inf")


async def test_sends_held_back_go_out_at_twice_the_rate_at_most() -> None:
    clock = _Clock()
    clock.t = 0.0
    pacer = SendWindow(10.0, clock)
    # Turns 0.1 s apart, the first held back by the window until 5.0: the rest follow it at
    # twice the rate, not all at once.
    planned = [pacer.spaced(at, 1) for at in (5.0, 1.1, 1.2)]
    assert planned == pytest.approx([5.0, 5.05, 5.1])
    assert pacer.spaced(9.0, 2) == 9.0  # a later time is kept as it is
    assert pacer.spaced(9.0, 1) == pytest.approx(9.1)  # two segments: twice the gap after
    # Woken 10 s late: the overdue sends go at twice the rate from now, not all at once.
    clock.t = 20.0
    late = [pacer.spaced(at, 1) for at in (9.3, 9.4, 9.5)]
    assert late == pytest.approx([9.3, 20.05, 20.1])
