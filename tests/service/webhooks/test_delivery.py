"""Webhook delivery: events reach a real receiver in order, signed; retries, redelivery, refusal."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import asyncpg
import httpx
import msgspec
import pytest

from service import ids
from service.settings import Settings
from service.webhooks import delivery, store
from tests.support.api import send
from tests.support.tenants import other_tenant
from tests.support.webhooks import (
    create_webhook,
    deliveries_of,
    relay,
    serve_receiver,
    verify_signature,
)
from tests.support.workers import run_worker, send_and_settle
from workers.webhooks import webhook_client

DELIVERED = "com.twilio.comms-api.message.delivered"


@pytest.mark.own_stack
async def test_a_sends_events_reach_the_receiver_in_order_and_signed(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    async with serve_receiver() as receiver:
        webhook = await create_webhook(client, f"{receiver.url}/all")
        operation_id = await send_and_settle(
            client, sandbox, settings, ["+15558675310", "+15558675311"], tags={"campaign": "spring"}
        )
        await relay(pool, settings)

        received = receiver.on("all")
        for request in received:
            verify_signature(webhook["secret"], request)
            assert request.headers["content-type"] == "application/cloudevents+json"
        events = [r.event for r in received]
        assert all(e["specversion"] == "1.0" for e in events)
        ids = [int(e["id"]) for e in events]
        assert ids == sorted(ids), "in event order"
        assert len(set(ids)) == len(ids), "once each"
        assert len({r.headers["webhook-id"] for r in received}) == len(received)
        operation_types = [e["type"] for e in events if "operation." in e["type"]]
        assert operation_types == [
            "com.twilio.comms-api.operation.processing",
            "com.twilio.comms-api.operation.completed",
        ]
        assert events[0]["data"] == {"operation_id": operation_id}
        by_message: dict[str, list[str]] = {}
        for event in events:
            if "message_id" in event["data"]:
                by_message.setdefault(event["data"]["message_id"], []).append(event["type"])
                assert event["subject"] == event["data"]["message_id"]
                assert event["source"].endswith(f"/v1/Messages/Operations/{operation_id}")
        assert len(by_message) == 2
        for types in by_message.values():
            assert [t.rsplit(".", 1)[1] for t in types] == ["queued", "sent", "delivered"]
        delivered = next(e for e in events if e["type"] == DELIVERED)
        data = delivered["data"]
        assert data["downstream_id"].startswith("SM")
        assert data["attempt"] == 1
        assert data["error_code"] is None
        assert data["from"] == {"address": "+15017122661", "channel": "SMS"}
        assert data["to"]["channel"] == "PHONE"
        assert data["tags"] == {"campaign": "spring"}

        log = await deliveries_of(client, webhook["id"])
        assert len(log) == len(received)
        assert {d["status"] for d in log} == {"SUCCEEDED"}
        assert all(d["tries"] == 1 and d["attempts"][0]["statusCode"] == 200 for d in log)
        assert all(d["operationId"] == operation_id for d in log)
        # Nothing new: another run delivers nothing again.
        count = len(received)
        await relay(pool, settings)
        assert len(receiver.on("all")) == count


@pytest.mark.own_stack
async def test_a_failing_receiver_is_retried_with_backoff(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    async with serve_receiver() as receiver:
        webhook = await create_webhook(client, f"{receiver.url}/flaky", [DELIVERED])
        await send_and_settle(client, sandbox, settings, ["+15558675310"])
        receiver.answers = [500, 503]
        start = datetime.now(UTC)
        await relay(pool, settings, now=start)
        [first] = await deliveries_of(client, webhook["id"])
        assert (first["status"], first["tries"]) == ("PENDING", 1)
        assert first["attempts"][0]["statusCode"] == 500
        assert first["attempts"][0]["responseBody"] == "broken"
        next_try = datetime.fromisoformat(first["nextTryAt"])
        assert start + timedelta(seconds=2.4) <= next_try <= start + timedelta(seconds=5.1)

        await relay(pool, settings, now=start + timedelta(seconds=1))
        assert len(receiver.on("flaky")) == 1, "not due yet"
        await relay(pool, settings, now=start + timedelta(seconds=6))
        [second] = await deliveries_of(client, webhook["id"])
        assert (second["status"], second["tries"]) == ("PENDING", 2)
        backoff = datetime.fromisoformat(second["nextTryAt"]) - (start + timedelta(seconds=6))
        assert timedelta(seconds=14.9) <= backoff <= timedelta(seconds=30.1), "it grows"

        await relay(pool, settings, now=start + timedelta(seconds=40))
        [done] = await deliveries_of(client, webhook["id"])
        assert (done["status"], done["tries"], done["nextTryAt"]) == ("SUCCEEDED", 3, None)
        assert [a["statusCode"] for a in done["attempts"]] == [500, 503, 200]
        tries = receiver.on("flaky")
        assert len({t.headers["webhook-id"] for t in tries}) == 1, "one id across retries"
        assert len({t.body for t in tries}) == 1
        for attempt in tries:
            verify_signature(webhook["secret"], attempt)
        assert [int(t.headers["webhook-timestamp"]) for t in tries] == [
            int(start.timestamp()),
            int((start + timedelta(seconds=6)).timestamp()),
            int((start + timedelta(seconds=40)).timestamp()),
        ]


@pytest.mark.own_stack
async def test_tries_stop_when_the_retry_window_ends(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    async with serve_receiver() as receiver:
        webhook = await create_webhook(client, f"{receiver.url}/down", [DELIVERED])
        await send_and_settle(client, sandbox, settings, ["+15558675310"])
        receiver.answers = [500] * 3
        start = datetime.now(UTC)
        await relay(pool, settings, now=start)
        await relay(pool, settings, now=start + timedelta(hours=23, minutes=59, seconds=59))
        [last] = await deliveries_of(client, webhook["id"])
        assert (last["status"], last["tries"], last["nextTryAt"]) == ("FAILED", 2, None)
        await relay(pool, settings, now=start + timedelta(days=2))
        assert len(receiver.on("down")) == 2


@pytest.mark.own_stack
async def test_redelivery_sends_the_same_event_again(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    api_url: str,
) -> None:
    async with serve_receiver() as receiver:
        webhook = await create_webhook(client, f"{receiver.url}/again", [DELIVERED])
        await send_and_settle(client, sandbox, settings, ["+15558675310"])
        await relay(pool, settings)
        [done] = await deliveries_of(client, webhook["id"])
        assert done["status"] == "SUCCEEDED"

        path = f"/v1/Webhooks/{webhook['id']}/Deliveries/{done['id']}/Redeliver"
        other = await other_tenant(pool)
        async with httpx.AsyncClient(base_url=api_url, auth=other.auth) as theirs:
            assert (await theirs.post(path)).status_code == 404
        unknown = f"/v1/Webhooks/{webhook['id']}/Deliveries/comms_delivery_nope/Redeliver"
        assert (await client.post(unknown)).status_code == 404

        response = await client.post(path)
        assert response.status_code == 202, response.text
        assert (response.json()["status"], response.json()["tries"]) == ("PENDING", 1)
        await relay(pool, settings)
        first, second = receiver.on("again")
        assert first.body == second.body
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        verify_signature(webhook["secret"], second)
        [again] = await deliveries_of(client, webhook["id"])
        assert (again["status"], again["tries"]) == ("SUCCEEDED", 2)
        assert len(again["attempts"]) == 2


@pytest.mark.own_stack
async def test_a_private_destination_is_refused_at_delivery_time(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    async with serve_receiver() as receiver:
        webhook = await create_webhook(client, f"{receiver.url}/private", [DELIVERED])
        await send_and_settle(client, sandbox, settings, ["+15558675310"])
        now = datetime.now(UTC)
        await delivery.fan_out(
            pool, base_url=settings.public_base_url, now=now, retry_window=timedelta(hours=24)
        )
        # As in production: loopback is not allowed.
        async with httpx.AsyncClient() as http:
            await delivery.deliver_due(
                pool, http, now=now, rng=random.Random(1), allow_loopback=False
            )
        assert receiver.on("private") == []
        [refused] = await deliveries_of(client, webhook["id"])
        assert refused["status"] == "PENDING"
        [attempt] = refused["attempts"]
        assert attempt["statusCode"] is None
        assert attempt["error"] == "refused: loopback address"


@pytest.mark.own_stack
async def test_the_delivering_client_checks_the_addresses_it_connects_to(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    """A name checked before a delivery may resolve elsewhere when the client connects (DNS
    rebinding). Here the check before the try lets loopback through, as if the name had been
    public then; the production client still refuses the loopback address it would reach."""
    async with serve_receiver() as receiver:
        by_name = receiver.url.replace("127.0.0.1", "localhost")
        webhook = await create_webhook(client, f"{by_name}/rebound", [DELIVERED])
        await send_and_settle(client, sandbox, settings, ["+15558675310"])
        now = datetime.now(UTC)
        await delivery.fan_out(
            pool, base_url=settings.public_base_url, now=now, retry_window=timedelta(hours=24)
        )
        production = msgspec.structs.replace(settings, environment="production")
        async with webhook_client(production) as http:
            await delivery.deliver_due(
                pool, http, now=now, rng=random.Random(1), allow_loopback=True
            )
        assert receiver.on("rebound") == []
        [refused] = await deliveries_of(client, webhook["id"])
        [attempt] = refused["attempts"]
        assert (refused["status"], attempt["statusCode"]) == ("PENDING", None)
        assert attempt["error"] == "refused: localhost resolves to a loopback address"


@pytest.mark.own_stack
async def test_a_status_callback_gets_only_its_operations_events(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    async with serve_receiver() as receiver:
        response = await client.post(
            "/v1/Messages",
            json={
                "to": [{"address": "+15558675310", "channel": "PHONE"}],
                "content": {"text": "hi"},
                "from": {"address": "+15017122661", "channel": "SMS"},
                "statusCallback": f"{receiver.url}/operation",
            },
        )
        assert response.status_code == 202, response.text
        accepted = response.json()
        secret = accepted["statusCallbackSecret"]
        assert secret.startswith("whsec_")
        operation_id = accepted["operationId"]
        other_operation = await send(client, ["+15558675311"])
        fetched = (await client.get(f"/v1/Messages/Operations/{operation_id}")).json()
        assert fetched["statusCallback"] == f"{receiver.url}/operation"
        assert (
            "statusCallback"
            not in (await client.get(f"/v1/Messages/Operations/{other_operation}")).json()
        )

        await run_worker(settings)
        await sandbox.post("/sandbox/drain")
        await relay(pool, settings)
        received = receiver.on("operation")
        assert {r.event["data"]["operation_id"] for r in received} == {operation_id}
        kinds = [r.event["type"].rsplit(".", 1)[1] for r in received]
        # Receipts and the operation's completion race (a receipt may come before or after
        # the worker completes the operation); each one's own order holds.
        assert kinds[0] == "processing"
        assert [k for k in kinds if k in ("processing", "completed")] == ["processing", "completed"]
        assert [k for k in kinds if k not in ("processing", "completed")] == [
            "queued",
            "sent",
            "delivered",
        ]
        for request in received:
            verify_signature(secret, request)


@pytest.mark.own_stack
async def test_a_status_callbacks_deliveries_are_logged_and_redelivered(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    async with serve_receiver() as receiver:
        operation_id = await send_and_settle(
            client,
            sandbox,
            settings,
            ["+15558675310"],
            statusCallback=f"{receiver.url}/operation",
        )
        receiver.answers = [500] * 10  # every event's first try fails
        start = datetime.now(UTC)
        await relay(pool, settings, now=start)
        log = f"/v1/Messages/Operations/{operation_id}/Deliveries"
        listed = (await client.get(log, params={"pageSize": 1000})).json()["deliveries"]
        assert len(listed) == len(receiver.on("operation")) >= 4  # processing, queued, sent...
        assert {(d["status"], d["tries"]) for d in listed} == {("PENDING", 1)}
        assert {d["attempts"][0]["statusCode"] for d in listed} == {500}
        # Newest first, pageable like every list.
        page = (await client.get(log, params={"pageSize": 2})).json()
        assert [d["id"] for d in page["deliveries"]] == [d["id"] for d in listed[:2]]
        assert page["pagination"]["next"] is not None

        receiver.answers = []
        chosen = listed[-1]
        again = await client.post(f"{log}/{chosen['id']}/Redeliver")
        assert again.status_code == 202, again.text
        assert again.json()["status"] == "PENDING"
        await relay(pool, settings)  # due at once, not after its backoff
        [redelivered] = [
            d
            for d in (await client.get(log, params={"pageSize": 1000})).json()["deliveries"]
            if d["id"] == chosen["id"]
        ]
        assert (redelivered["status"], redelivered["tries"]) == ("SUCCEEDED", 2)

        # Another account's operation, or a webhook's delivery, is not found here.
        other = await other_tenant(pool)
        async with httpx.AsyncClient(base_url=str(client.base_url), auth=other.auth) as stranger:
            assert (await stranger.get(log)).status_code == 404
            redo = await stranger.post(f"{log}/{chosen['id']}/Redeliver")
            assert redo.status_code == 404
        webhook = await create_webhook(client, f"{receiver.url}/hook", [DELIVERED])
        await send_and_settle(client, sandbox, settings, ["+15558675311"])
        await relay(pool, settings, now=start)
        [hooked] = await deliveries_of(client, webhook["id"])
        assert (await client.post(f"{log}/{hooked['id']}/Redeliver")).status_code == 404


async def test_a_status_callback_is_checked_like_a_webhook_url(client: httpx.AsyncClient) -> None:
    body = {
        "to": [{"address": "+15558675310", "channel": "PHONE"}],
        "content": {"text": "hi"},
        "from": {"address": "+15017122661", "channel": "SMS"},
    }
    for url in ("http://hooks.example.com/x", "https://10.0.0.1/x", "not a url"):
        for path in ("/v1/Messages", "/v1/Messages/DryRun"):
            response = await client.post(path, json={**body, "statusCallback": url})
            assert response.status_code == 400, response.text
            assert [(e["code"], e["context"]) for e in response.json()["errors"]] == [
                (90030, "$.statusCallback")
            ]
    both = await client.post(
        "/v1/Messages",
        json={**body, "to": [{"address": "12", "channel": "PHONE"}], "statusCallback": "x"},
    )
    assert {e["context"] for e in both.json()["errors"]} == {"$.to[0].address", "$.statusCallback"}
    plain = await client.post("/v1/Messages", json=body)
    assert "statusCallbackSecret" not in plain.json()


class Claimed(NamedTuple):
    webhook: dict[str, Any]
    claimed: list[store.ClaimedDelivery]
    mine: store.ClaimedDelivery
    lease_until: datetime


async def claim_a_delivery(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    url: str,
) -> Claimed:
    """A delivered message's event fanned out to a new endpoint at `url`, and claimed (as a
    worker does before its call)."""
    webhook = await create_webhook(client, url, [DELIVERED])
    await send_and_settle(client, sandbox, settings, ["+15558675310"])
    now = datetime.now(UTC)
    await delivery.fan_out(
        pool, base_url=settings.public_base_url, now=now, retry_window=timedelta(hours=24)
    )
    lease_until = now + timedelta(minutes=2)
    claimed = await store.claim_due_deliveries(pool, now, 1000, lease_until)
    [mine] = [c for c in claimed if c.url == url]
    return Claimed(webhook, claimed, mine, lease_until)


async def answer_all_with_200(pool: asyncpg.Pool, claim: Claimed) -> None:
    """Record a 200 for every claimed delivery, as the worker does after its calls."""
    now = datetime.now(UTC)
    outcome = delivery.TryOutcome(status_code=200)
    records = [delivery.record_try(c, outcome, now, random.Random(1)) for c in claim.claimed]
    await delivery.record_tries(pool, records, now, claim.lease_until)


@pytest.mark.own_stack
async def test_deleting_an_endpoint_mid_delivery_drops_its_tries(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    claim = await claim_a_delivery(client, sandbox, settings, pool, "https://hooks.example.com/g")
    assert (await client.delete(f"/v1/Webhooks/{claim.webhook['id']}")).status_code == 204
    await answer_all_with_200(pool, claim)
    gone = await pool.fetchval(
        "SELECT count(*) FROM webhook_attempts WHERE delivery_id = $1", claim.mine.id
    )
    assert gone == 0


@pytest.mark.own_stack
async def test_a_redelivery_asked_for_during_a_try_stands(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    claim = await claim_a_delivery(client, sandbox, settings, pool, "https://hooks.example.com/b")
    webhook_id, delivery_id = claim.webhook["id"], ids.encode(ids.DELIVERY, claim.mine.id)
    path = f"/v1/Webhooks/{webhook_id}/Deliveries/{delivery_id}/Redeliver"
    assert (await client.post(path)).status_code == 202
    await answer_all_with_200(pool, claim)
    [after] = await deliveries_of(client, webhook_id)
    assert (after["status"], after["tries"]) == ("PENDING", 1), "the redelivery is still due"
    assert after["nextTryAt"] is not None
    assert [a["statusCode"] for a in after["attempts"]] == [200]


@pytest.mark.own_stack
async def test_a_receiver_answering_garbage_fails_only_its_try(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with serve_receiver() as receiver:
            broken = await create_webhook(client, f"http://127.0.0.1:{port}/x", [DELIVERED])
            fine = await create_webhook(client, f"{receiver.url}/fine", [DELIVERED])
            await send_and_settle(client, sandbox, settings, ["+15558675310"])
            await relay(pool, settings)
            assert len(receiver.on("fine")) == 1
    finally:
        server.close()
        await server.wait_closed()
    [failed] = await deliveries_of(client, broken["id"])
    assert failed["status"] == "PENDING"
    [attempt] = failed["attempts"]
    assert attempt["statusCode"] is None
    assert attempt["error"]
    [ok] = await deliveries_of(client, fine["id"])
    assert ok["status"] == "SUCCEEDED"
