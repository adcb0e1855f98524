"""What /metrics reports beyond the HTTP server's own metrics: the send queue, read from
PostgreSQL at scrape time, and every worker's provider calls, read from Redis."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime

import asyncpg
import msgspec
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

from service import ids
from service.metrics import counters, store
from service.senders import kinds

log = structlog.get_logger(__name__)


class _Snapshot(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._metrics


class SenderQueue(msgspec.Struct, frozen=True):
    """A sender's queue: messages due now and not yet handed over, and the oldest one's wait."""

    sender_key: str
    backlog: int
    oldest_wait_s: float


async def sender_queues(pool: asyncpg.Pool, now: datetime) -> list[SenderQueue]:
    """Every sender with messages due now (what /metrics reports; the console shows it too)."""
    return [
        SenderQueue(row.sender_key, row.due, max(0.0, (now - row.oldest).total_seconds()))
        for row in await store.sender_backlogs(pool, now)
    ]


async def snapshot(pool: asyncpg.Pool, redis: Redis, now: datetime) -> CollectorRegistry:
    """A registry holding the queue and provider-call metrics as of now."""
    metrics: list[Metric] = []
    backlog = GaugeMetricFamily(
        "comms_sender_backlog_messages",
        "Messages due now and not yet handed to the provider, per registered sender (its id) "
        'and channel; unregistered senders together as sender="unregistered"',
        labels=["sender", "channel"],
    )
    waited = GaugeMetricFamily(
        "comms_sender_backlog_oldest_seconds",
        "How long the oldest due message of each sender has waited (as labelled above)",
        labels=["sender", "channel"],
    )
    for labels, (due, oldest_wait_s) in (await _by_sender_id(pool, now)).items():
        backlog.add_metric(list(labels), due)
        waited.add_metric(list(labels), oldest_wait_s)
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
        metrics.append(await _webhook_deliveries(redis))
    except RedisError as exc:
        # Redis down: this scrape has the queue's metrics and not the workers' counts (a
        # counter left out is a gap in the graph, not a reset).
        log.warning("worker counts left out: Redis unavailable", error=repr(exc))

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(metrics))
    return registry


UNREGISTERED = "unregistered"


async def _by_sender_id(
    pool: asyncpg.Pool, now: datetime
) -> dict[tuple[str, str], tuple[int, float]]:
    """The send queues as {(sender label, channel): (due, oldest wait)}. A label is a
    registered sender's id, never its number (personal data, and a series per number): the
    queues of unregistered senders are added up per channel under UNREGISTERED."""
    queues = await sender_queues(pool, now)
    pairs = [kinds.split_key(queue.sender_key) for queue in queues]
    registered = await store.registered_sender_ids(pool, pairs)
    series: dict[tuple[str, str], tuple[int, float]] = {}
    for queue, pair in zip(queues, pairs, strict=True):
        sender_id = registered.get(pair)
        label = ids.encode(ids.SENDER, sender_id) if sender_id is not None else UNREGISTERED
        key = (label, pair[0])
        due, waited = series.get(key, (0, 0.0))
        series[key] = (due + queue.backlog, max(waited, queue.oldest_wait_s))
    return series


async def _webhook_deliveries(redis: Redis) -> Metric:
    """Every worker's webhook and statusCallback delivery tries, from their counts in Redis."""
    tries = CounterMetricFamily(
        "comms_webhook_deliveries",
        "Webhook and statusCallback delivery tries by CloudEvents type and outcome (succeeded; "
        "retried: failed, tried again later; failed: failed for good)",
        labels=["event_type", "outcome"],
    )
    for (event_type, outcome), count in sorted(
        (await counters.read(redis, counters.DELIVERIES_KEY)).items()
    ):
        tries.add_metric([event_type, outcome], count)
    return tries


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
