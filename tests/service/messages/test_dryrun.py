"""POST /v1/Messages/DryRun: checked like a send, previewed per recipient, nothing kept."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from tests.support.tenants import Tenant

SMS_FROM = {"address": "+15017122661", "channel": "SMS"}


def unique_sender() -> str:
    """A long code no other test sends from, so its backlog is this test's alone."""
    return f"+1415{random.randrange(10**6, 10**7)}"


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def dry_run(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/Messages/DryRun", json=body)


async def stored_rows(pool: asyncpg.Pool, tenant: Tenant) -> tuple[int, int]:
    operations = await pool.fetchval(
        "SELECT count(*) FROM operations WHERE account_sid = $1", tenant.account_sid
    )
    messages = await pool.fetchval(
        "SELECT count(*) FROM messages WHERE account_sid = $1", tenant.account_sid
    )
    return operations, messages


async def test_each_recipient_is_rendered_counted_and_routed_and_nothing_is_kept(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, redis: Redis
) -> None:
    response = await client.post(
        "/v1/Messages/DryRun",
        headers={"Idempotency-Key": "dry-1"},
        json={
            "to": [
                {"address": "+15558675310", "channel": "PHONE", "variables": {"name": "Ada"}},
                {"address": "+15558675311", "channel": "phone", "variables": {"name": "Łukasz"}},
                {"address": "+15558675312", "channel": "PHONE", "variables": {"name": "x" * 200}},
            ],
            "content": {"text": "Hello {{ name | default: 'there' }}!"},
            "from": SMS_FROM,
            "tags": {"campaign": "welcome", "who": "{{ name | downcase }}"},
        },
    )
    assert response.status_code == 200, response.text
    assert "location" not in response.headers
    result = response.json()
    assert (result["total"], result["queued"], result["scheduled"], result["failed"]) == (
        3,
        3,
        0,
        0,
    )
    assert result["suppressed"] == 0
    ada, lukasz, long = result["recipients"]
    assert ada == {
        "position": 0,
        "to": {"address": "+15558675310", "channel": "PHONE"},
        "from": {"address": "+15017122661", "channel": "SMS"},
        "status": "QUEUED",
        "text": "Hello Ada!",
        "media": None,
        "contentId": None,
        "tags": {"campaign": "welcome", "who": "ada"},
        "encoding": "GSM-7",
        "segments": 1,
        "scheduledFor": None,
        "suppressed": False,
        "error": None,
    }
    assert (lukasz["text"], lukasz["encoding"], lukasz["segments"]) == ("Hello Łukasz!", "UCS-2", 1)
    assert lukasz["tags"]["who"] == "łukasz"
    assert (long["encoding"], long["segments"]) == ("GSM-7", 2)
    assert result["segments"] == 4
    [sender] = result["senders"]
    assert sender["from"] == {"address": "+15017122661", "channel": "SMS"}
    assert (sender["messages"], sender["segments"]) == (3, 4)

    assert await stored_rows(pool, tenant) == (0, 0)
    assert await redis.zcard("arq:queue") == 0
    assert await redis.keys("arq:job:*") == []
    # The Idempotency-Key was not taken: a real send with it is a first send.
    real = await client.post(
        "/v1/Messages",
        headers={"Idempotency-Key": "dry-1"},
        json={
            "to": [{"address": "+15558675310", "channel": "PHONE"}],
            "content": {"text": "hi"},
            "from": SMS_FROM,
        },
    )
    assert real.status_code == 202
    assert "idempotent-replayed" not in real.headers


@pytest.mark.parametrize(
    "body",
    [
        {
            "to": [{"address": "12345", "channel": "PHONE"}, {"address": "+1555", "channel": "X"}],
            "content": {"text": "Hi {{ name "},
            "from": {"address": "nope", "channel": "SMS"},
            "tags": {"k" * 129: "v"},
            "validityPeriod": 0,
        },
        {"to": [], "content": {}, "schedule": {"sendAt": ["2020-01-01T00:00:00Z"]}},
        {"to": [{"address": "+15558675310", "channel": "PHONE"}], "content": {"text": 5}},
        {"content": {"text": "hi"}},
    ],
)
async def test_a_dry_run_answers_the_same_400_as_a_send(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, body: dict[str, Any]
) -> None:
    real = await client.post("/v1/Messages", json=body)
    dry = await dry_run(client, body)
    assert real.status_code == 400
    assert dry.status_code == 400
    assert dry.json() == real.json()
    assert await stored_rows(pool, tenant) == (0, 0)


@pytest.mark.parametrize("flag", ["true", "TRUE", "1", "perhaps"])
async def test_the_send_refuses_to_be_asked_for_a_dry_run(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, flag: str
) -> None:
    """`?dryRun=true` on the send is not offered (it has its own route): a client that still
    asks gets a 400 rather than a real send."""
    response = await client.post(
        "/v1/Messages",
        params={"dryRun": flag},
        json={
            "to": [{"address": "+15558675310", "channel": "PHONE"}],
            "content": {"text": "hi"},
            "from": SMS_FROM,
        },
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["code"], error["context"]) == (90001, "$.dryRun")
    assert "POST /v1/Messages/DryRun" in error["message"]
    assert await stored_rows(pool, tenant) == (0, 0)


async def test_dry_run_false_is_a_send(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Messages",
        params={"dryRun": "false"},
        json={
            "to": [{"address": "+15558675310", "channel": "PHONE"}],
            "content": {"text": "hi"},
            "from": SMS_FROM,
        },
    )
    assert response.status_code == 202


async def test_local_send_times_match_what_a_send_stores(client: httpx.AsyncClient) -> None:
    local = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT09:30:00")
    body = {
        "to": [
            {"address": "+442071838750", "channel": "PHONE"},  # London
            {"address": "+81312345678", "channel": "PHONE"},  # Tokyo
            {"address": "+15558675310", "channel": "PHONE"},  # +1 spans zones: UTC
        ],
        "content": {"text": "Good morning"},
        "from": SMS_FROM,
        "schedule": {"sendAt": [local]},
    }
    dry = await dry_run(client, body)
    assert dry.status_code == 200, dry.text
    result = dry.json()
    assert (result["queued"], result["scheduled"]) == (0, 3)
    previewed = {r["to"]["address"]: r["scheduledFor"] for r in result["recipients"]}
    assert previewed["+81312345678"].endswith("T00:30:00.000Z")
    assert previewed["+15558675310"].endswith("T09:30:00.000Z")

    sent = await client.post("/v1/Messages", json=body)
    assert sent.status_code == 202
    listed = await client.get("/v1/Messages", params={"operationId": sent.json()["operationId"]})
    stored = {m["to"][0]["address"]: m["scheduledFor"] for m in listed.json()["messages"]}
    assert previewed == stored
    # Each sender sends at its due time at the earliest.
    [sender] = result["senders"]
    assert parse(sender["estimatedCompletionAt"]) >= max(parse(t) for t in stored.values())


async def test_what_would_fail_at_once_and_why(client: httpx.AsyncClient) -> None:
    response = await dry_run(
        client,
        {
            "to": [
                {"address": "+15558675310", "channel": "PHONE", "variables": {"n": "2"}},
                {"address": "+15558675311", "channel": "PHONE", "variables": {"n": "0"}},
                {"address": "+15558675312", "channel": "PHONE", "variables": {"pad": "x" * 1601}},
            ],
            "content": {"text": "{% if n %}{{ 10 | divided_by: n }}{% endif %}{{ pad }}"},
            "from": SMS_FROM,
        },
    )
    assert response.status_code == 200, response.text
    result = response.json()
    ok, broken, too_long = result["recipients"]
    assert (ok["status"], ok["text"], ok["error"]) == ("QUEUED", "5", None)
    assert broken["status"] == "FAILED"
    assert broken["error"]["code"] == 90004
    assert "divide by 0" in broken["error"]["message"]
    assert too_long["status"] == "FAILED"
    assert too_long["error"] == {
        "code": 21617,
        "message": "Rendered text exceeds 1600 characters",
        "infoUrl": "https://www.twilio.com/docs/api/errors/21617",
    }
    assert (result["queued"], result["failed"]) == (1, 2)
    [sender] = result["senders"]
    assert (sender["messages"], sender["segments"]) == (1, 1)


async def test_completion_is_estimated_from_the_rate_and_the_backlog(
    client: httpx.AsyncClient,
) -> None:
    address = unique_sender()
    registered = await client.post(
        "/v1/Senders", json={"address": address, "channel": "SMS", "mps": 2}
    )
    assert registered.status_code == 201, registered.text
    sender_id = registered.json()["id"]
    # Three messages of two segments each: 6 segments at 2 a second.
    body: dict[str, Any] = {
        "to": [{"address": f"+1555867531{i}", "channel": "PHONE"} for i in range(3)],
        "content": {"text": "y" * 200},
        "from": {"address": address, "channel": "SMS"},
    }
    # Timestamps on the wire are truncated to milliseconds.
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    first = (await dry_run(client, body)).json()
    after = datetime.now(UTC)
    [sender] = first["senders"]
    assert sender["from"] == {"address": address, "channel": "SMS", "senderId": sender_id}
    assert (sender["mps"], sender["backlog"], sender["segments"]) == (2, 0, 6)
    estimate = parse(first["estimatedCompletionAt"])
    assert before + timedelta(seconds=3) <= estimate <= after + timedelta(seconds=3)
    assert first["recipients"][0]["from"]["senderId"] == sender_id

    # Four messages accepted for real (no worker runs) wait in the sender's queue.
    queued = await client.post("/v1/Messages", json={**body, "to": body["to"] + body["to"][:1]})
    assert queued.status_code == 202
    # Timestamps on the wire are truncated to milliseconds.
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    second = (await dry_run(client, body)).json()
    after = datetime.now(UTC)
    [sender] = second["senders"]
    assert sender["backlog"] == 4
    estimate = parse(second["estimatedCompletionAt"])
    # The backlog counts one segment a message: (4 + 6) / 2 seconds.
    assert before + timedelta(seconds=5) <= estimate <= after + timedelta(seconds=5)


async def test_queue_overflow_is_decided_as_a_send_decides(client: httpx.AsyncClient) -> None:
    address = unique_sender()
    assert (
        await client.post("/v1/Senders", json={"address": address, "channel": "SMS", "mps": 1})
    ).status_code == 201
    # 1 segment a second for a validity of 3 s: room for 3 messages.
    body = {
        "to": [{"address": f"+1555867531{i}", "channel": "PHONE"} for i in range(5)],
        "content": {"text": "hi"},
        "from": {"address": address, "channel": "SMS"},
        "validityPeriod": 3,
    }
    dry = (await dry_run(client, body)).json()
    assert [r["status"] for r in dry["recipients"]] == ["QUEUED"] * 3 + ["FAILED"] * 2
    assert {r["error"]["code"] for r in dry["recipients"][3:]} == {30001}
    assert (dry["queued"], dry["failed"], dry["senders"][0]["messages"]) == (3, 2, 3)

    sent = await client.post("/v1/Messages", json=body)
    listed = await client.get("/v1/Messages", params={"operationId": sent.json()["operationId"]})
    statuses = sorted(m["status"] for m in listed.json()["messages"])
    assert statuses == sorted(r["status"] for r in dry["recipients"])


async def test_media_and_content_templates_are_previewed(client: httpx.AsyncClient) -> None:
    content_sid = "HX" + "ab" * 16
    media = await dry_run(
        client,
        {
            "to": [{"address": "+15558675310", "channel": "PHONE"}],
            "content": {"text": "z" * 300, "media": [{"url": "https://cdn.example.com/a.png"}]},
            "from": SMS_FROM,
        },
    )
    [mms] = media.json()["recipients"]
    assert mms["media"] == [{"url": "https://cdn.example.com/a.png"}]
    # An MMS is one message whatever the length of its text.
    assert (mms["encoding"], mms["segments"]) == ("GSM-7", 1)
    template = await dry_run(
        client,
        {
            "to": [{"address": "+15558675310", "channel": "PHONE", "variables": {"1": "Ada"}}],
            "content": {"contentId": content_sid},
            "from": SMS_FROM,
        },
    )
    [templated] = template.json()["recipients"]
    assert templated["contentId"] == content_sid
    assert (templated["text"], templated["encoding"], templated["segments"]) == (None, None, None)
    assert template.json()["segments"] == 1
