"""Webhooks from the receiving end: a real receiver over HTTP, the Standard Webhooks signature
check, the worker's relay job run once, and the webhook calls of the API."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import asyncpg
import httpx
import msgspec
from litestar import Litestar, Request, Response, post
from litestar.params import PathParameter
from redis.asyncio import Redis

from sandbox.serving import serve_asgi
from schemas.events import EVENT_TYPES
from service.metrics.counters import WebhookDeliveries
from service.settings import Settings
from workers.webhooks import relay_events, webhook_client

ALL_TYPES = list(EVENT_TYPES)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        decoded: dict[str, Any] = msgspec.json.decode(self.body)
        return decoded


@dataclass
class Receiver:
    """A webhook receiver on loopback: records every request, answers the queued statuses."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@asynccontextmanager
async def serve_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()

    @post("/{path:path}", status_code=200)
    async def hook(
        request: Request[Any, Any, Any], path: Annotated[str, PathParameter()]
    ) -> Response[str]:
        receiver.requests.append(
            Received(path.lstrip("/"), dict(request.headers), await request.body())
        )
        status = receiver.answers.pop(0) if receiver.answers else 200
        return Response("thanks" if status < 300 else "broken", status_code=status)

    async with serve_asgi(Litestar(route_handlers=[hook], openapi_config=None)) as url:
        receiver.url = url
        yield receiver


def verify_signature(secret: str, received: Received) -> None:
    """The Standard Webhooks check, written from the spec (not with the service's code)."""
    key = base64.b64decode(secret.split("_", 1)[1])
    message_id = received.headers["webhook-id"]
    timestamp = received.headers["webhook-timestamp"]
    signed = f"{message_id}.{timestamp}.".encode() + received.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = received.headers["webhook-signature"].split(" ")
    assert f"v1,{expected}" in offered, (offered, expected)


async def relay(
    pool: asyncpg.Pool,
    settings: Settings,
    now: datetime | None = None,
    redis: Redis | None = None,
) -> int:
    """One run of the worker's relay job: fan out new events, send what is due at `now` (and
    count the tries in `redis`, as a worker does, when given)."""
    client = webhook_client(settings)
    ctx: dict[str, Any] = {"pool": pool, "settings": settings, "webhook_http": client}
    if redis is not None:
        ctx["webhook_deliveries"] = WebhookDeliveries(redis)
    if now is not None:
        ctx["clock"] = lambda: now
    try:
        return await relay_events(ctx)
    finally:
        await client.aclose()


async def create_webhook(
    client: httpx.AsyncClient, url: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/v1/Webhooks", json={"url": url, "eventTypes": event_types or ALL_TYPES}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries_of(client: httpx.AsyncClient, webhook_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/Webhooks/{webhook_id}/Deliveries", params={"pageSize": 1000})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["deliveries"]
    return items
