"""Webhook jobs: fan events out to endpoints and statusCallbacks, and send what is due.

One cron job does both every second (unique: one run at a time across workers), so deliveries
never wait on the send path's jobs and the send path never waits on a slow receiver: the
receivers' answers only hold this job, bounded by the webhook client's timeouts.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver
from httpx_aiohttp import HttpxAiohttpClient
from httpx_aiohttp.transport import AiohttpTransport

from service.clock import system_clock
from service.settings import Settings
from service.webhooks import delivery
from service.webhooks.destinations import PublicAddressesOnly

# Rounds of sending per run, so a backlog drains within a run without holding it for long.
DELIVERY_ROUNDS = 10


def pooled_client(
    timeout_s: float, max_connections: int, resolver: AbstractResolver | None = None
) -> httpx.AsyncClient:
    """httpx's API over aiohttp's faster connection pool (DESIGN.md), with explicit timeouts;
    host names are resolved by `resolver` when given (aiohttp's own otherwise).

    Redirects are not followed: a webhook URL could redirect anywhere, a private address too.
    """
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    transport = None
    if resolver is not None:
        transport = AiohttpTransport(
            client=lambda: aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=max_connections,
                    keepalive_timeout=limits.keepalive_expiry,
                    ssl=httpx.create_ssl_context(),
                    resolver=resolver,
                )
            )
        )
    return HttpxAiohttpClient(
        timeout=httpx.Timeout(timeout_s, connect=5.0),
        limits=limits,
        follow_redirects=False,
        transport=transport,
    )


def webhook_client(settings: Settings) -> httpx.AsyncClient:
    """The one client for users' URLs (webhook endpoints, statusCallbacks): it connects only
    to the addresses destinations allow, whatever a name resolved to when it was checked."""
    return pooled_client(
        settings.webhook_timeout_s,
        settings.webhook_max_connections,
        PublicAddressesOnly(allow_loopback=settings.webhook_loopback_allowed),
    )


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
