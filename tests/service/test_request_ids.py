"""X-Request-Id: the caller's own or a new one on every response, kept with the send it
started, carried by its dispatch job, its provider calls and its events."""

from __future__ import annotations

import random
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from schemas.jobs import DispatchOperation
from service import ids, queue
from service.events import logic as events
from service.events import store as event_store
from service.settings import Settings
from tests.support.factories import SMS_FROM
from workers import settings as worker_settings
from workers.channels.http import ProviderClient

SEND = {"to": [{"address": "+15558675310", "channel": "PHONE"}], "content": {"text": "hi"}}


async def test_a_valid_caller_id_comes_back(client: httpx.AsyncClient) -> None:
    caller = "Client-7f3a:trace.42_x"
    answer = await client.get("/v1/Senders", headers={"X-Request-Id": caller})
    assert answer.headers["X-Request-Id"] == caller
    longest = "a" * 128
    answer = await client.get("/v1/Senders", headers={"X-Request-Id": longest})
    assert answer.headers["X-Request-Id"] == longest


@pytest.mark.parametrize(
    "offered", [None, "", "a" * 129, "has space", "semi;colon", "ünï".encode()]
)
async def test_otherwise_a_new_one_is_made(
    client: httpx.AsyncClient, offered: str | bytes | None
) -> None:
    value = offered.encode() if isinstance(offered, str) else offered
    headers: dict[bytes, bytes] = {} if value is None else {b"X-Request-Id": value}
    first = await client.get("/v1/Senders", headers=headers)
    second = await client.get("/v1/Senders", headers=headers)
    made = first.headers["X-Request-Id"]
    assert made.startswith("req_")
    assert ids.decode(ids.REQUEST, made) is not None
    assert second.headers["X-Request-Id"] != made


async def test_every_answer_carries_one(anonymous: httpx.AsyncClient) -> None:
    for method, path, status in [
        ("GET", "/nowhere", 404),  # no route
        ("DELETE", "/healthz", 405),  # no such method
        ("GET", "/v1/Senders", 401),  # refused by the guard
        ("GET", "/healthz", 200),
        ("GET", "/metrics", 200),
    ]:
        answer = await anonymous.request(method, path, headers={"X-Request-Id": "probe-1"})
        assert answer.status_code == status, (path, answer.text)
        assert answer.headers.get_list("X-Request-Id") == ["probe-1"], path


async def test_a_send_keeps_its_id_for_its_job_and_events(
    client: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis, settings: Settings
) -> None:
    answer = await client.post(
        "/v1/Messages", json={**SEND, "from": SMS_FROM}, headers={"X-Request-Id": "send-1"}
    )
    assert answer.status_code == 202, answer.text
    operation_id = ids.decode(ids.OPERATION, answer.json()["operationId"])
    assert operation_id is not None

    stored = await pool.fetchval("SELECT request_id FROM operations WHERE id = $1", operation_id)
    assert stored == "send-1"

    # The dispatch job, as arq keeps it in Redis, names the request.
    raw = await redis.get(f"arq:job:dispatch:{operation_id}")
    assert raw is not None
    job: dict[str, Any] = queue.deserialize_job(raw)
    assert job["a"][0]["request_id"] == "send-1"
    assert DispatchOperation(**job["a"][0]).operation_id == str(operation_id)

    # So do its events (the CloudEvents `requestid` extension attribute).
    rows = await event_store.operation_events(pool, operation_id, 0, 2**62, 100)
    assert {row.type for row in rows} >= {"operation.processing", "message.queued"}
    for row in rows:
        event = events.render_event(row, settings.public_base_url)
        assert event.requestid == "send-1"
        assert event.traceparent is None  # tracing is off here


@pytest.mark.own_stack
async def test_the_provider_calls_of_a_send_carry_its_id(
    client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    calls: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(201, json={"sid": "SM" + uuid.uuid4().hex, "status": "queued"})

    answer = await client.post(
        "/v1/Messages",
        json={**SEND, "from": SMS_FROM},
        headers={"X-Request-Id": "send-to-provider-1"},
    )
    assert answer.status_code == 202, answer.text
    operation_id = ids.decode(ids.OPERATION, answer.json()["operationId"])
    assert operation_id is not None

    http = ProviderClient(timeout_s=10, max_connections=4, transport=httpx.MockTransport(provider))
    try:
        dispatcher = worker_settings.build_dispatcher(settings, pool, http)
        dispatcher.rng = random.Random(1)
        assert await dispatcher.run(operation_id) == 1
    finally:
        await http.aclose()
    [call] = calls
    assert call.headers["X-Request-Id"] == "send-to-provider-1"
    form = httpx.QueryParams(call.content.decode())
    # Tracing is off: the StatusCallback is the plain one.
    assert "traceparent" not in form["StatusCallback"]
