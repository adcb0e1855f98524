"""Webhook jobs: fan events out to endpoints and statusCallbacks, and send what is due.

One cron job does both every second (unique: one run at a time across workers), so deliveries
never wait on the send path's jobs and the send path never waits on a slow receiver: the
receivers' answers only hold this job, bounded by the webhook client's timeouts.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import httpx
from httpx_aiohttp import HttpxAiohttpClient

from service.clock import system_clock
from service.settings import Settings
from service.webhooks import delivery

# Rounds of sending per run, so a backlog drains within a run without holding it for long.
DELIVERY_ROUNDS = 10


def pooled_client(timeout_s: float, max_connections: int) -> httpx.AsyncClient:
    """httpx's API over aiohttp's faster connection pool (DESIGN.md), with explicit timeouts.

    Redirects are not followed: a webhook URL could redirect anywhere, a private address too.
    """
    return HttpxAiohttpClient(
        timeout=httpx.Timeout(timeout_s, connect=5.0),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        follow_redirects=False,
    )


def webhook_client(settings: Settings) -> httpx.AsyncClient:
    """The one client for users' URLs (webhook endpoints, statusCallbacks)."""
    return pooled_client(settings.webhook_timeout_s, settings.webhook_max_connections)


async def relay_events(ctx: dict[str, Any]) -> int:
    """Every second: record deliveries of new events, then send the due ones."""
    settings: Settings = ctx["settings"]
    clock = ctx.get("clock") or system_clock
    await delivery.fan_out(
        ctx["pool"],
        base_url=settings.public_base_url.rstrip("/"),
        now=clock(),
        retry_window=timedelta(hours=settings.webhook_retry_hours),
    )
    rng: random.Random = ctx.setdefault("webhook_rng", random.Random())  # noqa: S311 (jitter, not secrets)
    sent = 0
    for _ in range(DELIVERY_ROUNDS):
        done = await delivery.deliver_due(
            ctx["pool"],
            ctx["webhook_http"],
            now=clock(),
            rng=rng,
            allow_loopback=settings.webhook_loopback_allowed,
            concurrency=settings.webhook_concurrency,
        )
        sent += done
        if done == 0:
            break
    return sent
