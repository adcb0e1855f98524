"""A sender's rate holds where it counts: in the provider's own receive times.

Two workers' dispatchers drain one sender together, through the real limiter and leases, to
the sandbox; however the sends were delayed on the way, no second of the sandbox's receive
stamps holds more than the sender's rate. (The guarantee rests on the order of events, not on
timing: a send starts only a second after the answers it must not share a second with.)
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from service import ids
from service.settings import Settings
from workers import settings as worker_settings
from workers.ratelimit import RateLimiter, SenderLeases

# Every test here runs a worker: each gets a database and API of its own.
pytestmark = pytest.mark.own_stack

SENDER = "+15017122667"
RATE = 20
COUNT = 50


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


async def test_two_workers_never_put_more_than_the_rate_into_a_provider_second(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    redis: Redis,
) -> None:
    registered = await client.post(
        "/v1/Senders", json={"address": SENDER, "channel": "SMS", "mps": RATE}
    )
    assert registered.status_code == 201, registered.text
    accepted = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": f"+1555868{n:04d}", "channel": "PHONE"} for n in range(COUNT)],
            "content": {"text": "paced"},
            "from": {"address": SENDER, "channel": "SMS"},
        },
    )
    assert accepted.status_code == 202
    operation_id = ids.decode(ids.OPERATION, accepted.json()["operationId"])

    https = [worker_settings.provider_client(settings) for _ in range(2)]
    dispatchers = [
        worker_settings.build_dispatcher(
            settings, pool, http, limiter=RateLimiter(redis), leases=SenderLeases(redis)
        )
        for http in https
    ]
    try:
        # One takes the sender's lease and paces it; the other finds it taken. Both are
        # asked again until the queue is empty, as the per-second tick would.
        for _ in range(20):
            await asyncio.gather(*(d.run(operation_id) for d in dispatchers))
            left = await pool.fetchval(
                "SELECT count(*) FROM messages WHERE operation_id = $1 AND due_at IS NOT NULL",
                operation_id,
            )
            if left == 0:
                break
    finally:
        for http in https:
            await http.aclose()

    sent = (await sandbox.get("/sandbox/messages")).json()["messages"]
    times = [m["received_at"] for m in sent if m["from"] == SENDER]
    assert len(times) == COUNT
    assert most_in_one_second(times) <= RATE

    # Each attempt records when its request went to the provider, not when its batch was
    # prepared: the stamp is taken before the call, and no two paced calls share it (a batch
    # here holds 40 messages, which all shared one stamp before).
    attempts = await pool.fetch(
        "SELECT to_address, attempted_at FROM attempts WHERE operation_id = $1", operation_id
    )
    received = {m["to"]: m["received_at"] for m in sent if m["from"] == SENDER}
    assert len(attempts) == COUNT
    for attempt in attempts:
        assert attempt["attempted_at"].timestamp() <= received[attempt["to_address"]] + 0.001
    assert len({a["attempted_at"] for a in attempts}) > COUNT // 2
