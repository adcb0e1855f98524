"""What /metrics reports beyond the HTTP server's own metrics: the send queue, read from
PostgreSQL at scrape time, and every worker's provider calls, read from Redis."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime

import asyncpg
import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.metrics import counters, store

log = structlog.get_logger(__name__)


class _Snapshot(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._metrics


async def snapshot(pool: asyncpg.Pool, redis: Redis, now: datetime) -> CollectorRegistry:
    """A registry holding the queue and provider-call metrics as of now."""
    metrics: list[Metric] = []
    backlog = GaugeMetricFamily(
        "comms_sender_backlog_messages",
        "Messages due now and not yet handed to the provider, per sender",
        labels=["sender"],
    )
    waited = GaugeMetricFamily(
        "comms_sender_backlog_oldest_seconds",
        "How long the oldest due message of each sender has waited",
        labels=["sender"],
    )
    for row in await store.sender_backlogs(pool, now):
        backlog.add_metric([row.sender_key], row.due)
        waited.add_metric([row.sender_key], max(0.0, (now - row.oldest).total_seconds()))
    metrics += [backlog, waited]
    metrics.append(
        GaugeMetricFamily(
            "comms_messages_waiting_for_later",
            "Messages scheduled for later, or waiting for a retry",
            value=await store.scheduled_count(pool, now),
        )
    )

    try:
        metrics += await _provider_calls(redis)
    except RedisError as exc:
        # Redis down: this scrape has the queue's metrics and not the provider calls' (a
        # counter left out is a gap in the graph, not a reset).
        log.warning("provider call counts left out: Redis unavailable", error=repr(exc))

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(metrics))
    return registry


async def _provider_calls(redis: Redis) -> list[Metric]:
    """Every worker's provider calls, from the counters they add to Redis."""
    requests = CounterMetricFamily(
        "comms_provider_requests",
        "Provider calls by channel and outcome (ACCEPTED, TRANSIENT, PERMANENT, UNKNOWN)",
        labels=["channel", "outcome"],
    )
    for (channel, outcome), calls in sorted(
        (await counters.read(redis, counters.REQUESTS_KEY)).items()
    ):
        requests.add_metric([channel, outcome], calls)

    seconds = await counters.read(redis, counters.SECONDS_KEY)
    latency = HistogramMetricFamily(
        "comms_provider_request_duration_seconds",
        "Time from starting a provider call to its answer (or giving up), by channel",
        labels=["channel"],
    )
    bounds = [counters.bucket_label(b) for b in (*counters.BUCKETS, math.inf)]
    for channel in sorted({channel for channel, _ in seconds}):
        latency.add_metric(
            [channel],
            buckets=[(bound, seconds.get((channel, bound), 0.0)) for bound in bounds],
            sum_value=seconds.get((channel, "sum"), 0.0),
        )
    return [requests, latency]
