"""Worker counters kept in Redis, so /metrics shows every worker's counts together: provider
calls, and webhook deliveries.

A worker counts in memory and adds its counts to Redis hashes once per batch (one round trip):
Prometheus counters that only grow (a flushed Redis looks like a restart).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from redis.asyncio import Redis

REQUESTS_KEY = "comms:metrics:provider_requests"  # "channel|outcome" -> calls
SECONDS_KEY = "comms:metrics:provider_seconds"  # "channel|le" -> calls, "channel|sum" -> s
BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OUTCOMES = ("ACCEPTED", "TRANSIENT", "PERMANENT", "UNKNOWN")


DELIVERIES_KEY = "comms:metrics:webhook_deliveries"  # "event_type|outcome" -> tries
# A webhook delivery try's outcome, by the state it leaves the delivery in.
DELIVERY_OUTCOMES = {"SUCCEEDED": "succeeded", "PENDING": "retried", "FAILED": "failed"}


def bucket_label(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


class ProviderCalls:
    """Provider calls made by this process and not yet added to Redis."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._requests: Counter[str] = Counter()
        self._buckets: Counter[str] = Counter()
        self._seconds: defaultdict[str, float] = defaultdict(float)

    def observe(self, channel: str, outcome: str, seconds: float) -> None:
        self._requests[f"{channel}|{outcome}"] += 1
        for bound in (*BUCKETS, math.inf):
            if seconds <= bound:  # buckets are cumulative, as Prometheus reads them
                self._buckets[f"{channel}|{bucket_label(bound)}"] += 1
        self._seconds[f"{channel}|sum"] += seconds

    async def flush(self) -> None:
        """Add what was counted to Redis, and start counting afresh."""
        if not self._requests:
            return
        requests, buckets, seconds = self._requests, self._buckets, self._seconds
        self._requests, self._buckets, self._seconds = Counter(), Counter(), defaultdict(float)
        async with self._redis.pipeline(transaction=False) as pipe:
            for field, calls in requests.items():
                pipe.hincrby(REQUESTS_KEY, field, calls)
            for field, calls in buckets.items():
                pipe.hincrby(SECONDS_KEY, field, calls)
            for field, total in seconds.items():
                pipe.hincrbyfloat(SECONDS_KEY, field, total)
            await pipe.execute()


class WebhookDeliveries:
    """Webhook and statusCallback delivery tries made by this process and not yet added to
    Redis, by CloudEvents type and outcome (succeeded, retried, failed: the delivery's state
    after the try)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._tries: Counter[str] = Counter()

    def observe(self, event_type: str, delivery_status: str) -> None:
        outcome = DELIVERY_OUTCOMES.get(delivery_status, delivery_status.lower())
        self._tries[f"{event_type}|{outcome}"] += 1

    async def flush(self) -> None:
        if not self._tries:
            return
        tries, self._tries = self._tries, Counter()
        async with self._redis.pipeline(transaction=False) as pipe:
            for field, count in tries.items():
                pipe.hincrby(DELIVERIES_KEY, field, count)
            await pipe.execute()


async def read(redis: Redis, key: str) -> dict[tuple[str, str], float]:
    """A counters hash as {(channel, label): value}."""
    fields: dict[bytes, bytes] = await redis.hgetall(key)  # type: ignore[misc]
    parsed: dict[tuple[str, str], float] = {}
    for field, value in fields.items():
        channel, _, label = field.decode().partition("|")
        parsed[(channel, label)] = float(value)
    return parsed
