"""GET /v1/Messages/Operations/{id}/Events: the SSE stream, Last-Event-ID, its end, tenancy."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from service.settings import Settings
from tests.support.api import send
from tests.support.tenants import other_tenant
from tests.support.workers import run_worker


def in_a_week() -> str:
    return (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def read_stream(
    client: httpx.AsyncClient, operation_id: str, last_event_id: str | None = None
) -> list[dict[str, Any]]:
    """Every SSE event until the server ends the stream."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    path = f"/v1/Messages/Operations/{operation_id}/Events"
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line == "":
                if current:
                    events.append(current)
                current = {}
                continue
            name, _, value = line.partition(":")
            current[name] = value.removeprefix(" ")
    if current:
        events.append(current)
    return events


@pytest.mark.own_stack
async def test_a_finished_operations_stream_resumes_and_ends(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    operation_id = await send(client, ["+15558675310", "+15558675311"])
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")

    events = await read_stream(client, operation_id)
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    bodies = [json.loads(e["data"]) for e in events]
    assert [b["id"] for b in bodies] == [e["id"] for e in events]
    assert [b["type"] for b in bodies] == [e["event"] for e in events]
    assert {b["data"]["operation_id"] for b in bodies} == {operation_id}
    kinds = [e["event"].removeprefix("com.twilio.comms-api.") for e in events]
    assert kinds[0] == "operation.processing"
    assert kinds.count("operation.completed") == 1
    assert sorted(kinds) == sorted(
        ["operation.processing", "operation.completed"]
        + ["message.queued", "message.sent", "message.delivered"] * 2
    )

    resumed = await read_stream(client, operation_id, last_event_id=events[2]["id"])
    assert resumed == events[3:]
    assert await read_stream(client, operation_id, last_event_id=events[-1]["id"]) == []


@pytest.mark.own_stack
async def test_a_live_stream_follows_the_send_until_it_is_done(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    operation_id = await send(client, ["+15558675310"])
    following = asyncio.create_task(read_stream(client, operation_id))
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")
    events = await asyncio.wait_for(following, timeout=30)
    assert next(e["event"].rsplit(".", 1)[1] for e in events) == "processing"
    assert {e["event"].rsplit(".", 1)[1] for e in events} == {
        "processing",
        "queued",
        "sent",
        "delivered",
        "completed",
    }


async def test_a_canceled_operations_stream_ends(client: httpx.AsyncClient) -> None:
    operation_id = await send(client, ["+15558675310"], schedule={"sendAt": [in_a_week()]})
    assert (await client.post(f"/v1/Messages/Operations/{operation_id}/Cancel")).status_code == 202
    kinds = [e["event"].rsplit(".", 1)[1] for e in await read_stream(client, operation_id)]
    assert kinds == ["scheduled", "canceled"]


async def test_only_the_owner_can_follow_and_bad_input_is_a_400(
    client: httpx.AsyncClient, api_url: str, pool: asyncpg.Pool
) -> None:
    operation_id = await send(client, ["+15558675310"], schedule={"sendAt": [in_a_week()]})
    other = await other_tenant(pool)
    async with httpx.AsyncClient(base_url=api_url, auth=other.auth) as theirs:
        response = await theirs.get(f"/v1/Messages/Operations/{operation_id}/Events")
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == 20404
    unknown = await client.get("/v1/Messages/Operations/comms_operation_nope/Events")
    assert unknown.status_code == 404
    for bad in ("abc", "-1", "9" * 40):
        response = await client.get(
            f"/v1/Messages/Operations/{operation_id}/Events", headers={"Last-Event-ID": bad}
        )
        assert response.status_code == 400
        assert response.json()["errors"][0]["context"] == "$.Last-Event-ID"
