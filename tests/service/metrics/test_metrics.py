"""GET /metrics: the HTTP server's requests, the send queue per sender, and every worker's
provider calls (added up in Redis), in Prometheus text that Prometheus's own parser reads."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from service.settings import Settings
from tests.support.api import register_sender, send
from tests.support.webhooks import create_webhook, relay, serve_receiver
from tests.support.workers import run_worker, send_and_settle

SENDER = {"address": "+15017122668", "channel": "SMS"}

# Metric samples by (name, labels).
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    wanted = set(labels.items())
    matches = [v for (n, ls), v in found.items() if n == name and wanted <= ls]
    assert len(matches) <= 1, f"{name} {labels} matches several series"
    return matches[0] if matches else None


async def scrape(api_url: str) -> Samples:
    async with httpx.AsyncClient(base_url=api_url) as anonymous:
        response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


@pytest.mark.own_stack
async def test_queue_and_provider_calls_are_reported(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, api_url: str
) -> None:
    accepted = await client.post(
        "/v1/Messages",
        json={
            "to": [
                {"address": "+15558675320", "channel": "PHONE"},
                {"address": "+15558675321", "channel": "PHONE"},
                {"address": "+15005550001", "channel": "PHONE"},  # the sandbox refuses: 21211
            ],
            "content": {"text": "counted"},
            "from": SENDER,
        },
    )
    assert accepted.status_code == 202

    waiting = await scrape(api_url)
    # An unregistered sender: counted with the others of its channel, never by its number.
    sender = "unregistered"
    assert value(waiting, "comms_sender_backlog_messages", sender=sender, channel="SMS") == 3
    oldest = value(waiting, "comms_sender_backlog_oldest_seconds", sender=sender, channel="SMS")
    assert oldest is not None
    assert oldest >= 0
    assert value(waiting, "comms_messages_waiting_for_later") is not None
    assert value(waiting, "comms_provider_requests_total", channel="SMS") is None  # none yet
    created = value(
        waiting, "comms_requests_total", method="POST", path="/v1/Messages", status_code="202"
    )
    assert created is not None
    assert created >= 1

    await run_worker(settings)
    sent = await scrape(api_url)
    assert value(sent, "comms_sender_backlog_messages", sender=sender) is None  # drained
    assert value(sent, "comms_provider_requests_total", channel="SMS", outcome="ACCEPTED") == 2
    assert value(sent, "comms_provider_requests_total", channel="SMS", outcome="PERMANENT") == 1
    assert value(sent, "comms_provider_request_duration_seconds_count", channel="SMS") == 3
    assert (
        value(sent, "comms_provider_request_duration_seconds_bucket", channel="SMS", le="+Inf") == 3
    )


async def test_unmatched_paths_add_no_series(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as anonymous:
        assert (await anonymous.get("/no/such/path/5f1c")).status_code == 404
    found = await scrape(api_url)
    assert not [
        ls
        for (n, ls) in found
        if n == "comms_requests_total" and ("path", "/no/such/path/5f1c") in ls
    ]


@pytest.mark.own_stack  # no worker runs; the backlog must be this test's alone
async def test_series_are_labelled_by_sender_id_never_by_number(
    client: httpx.AsyncClient, api_url: str
) -> None:
    number = "+15017122699"
    sender_id = await register_sender(client, number)
    await send(
        client, ["+15558675330", "+15558675331"], **{"from": {"address": number, "channel": "SMS"}}
    )
    response = await httpx.AsyncClient(base_url=api_url).get("/metrics")
    found = samples(response.text)
    assert value(found, "comms_sender_backlog_messages", sender=sender_id, channel="SMS") == 2
    assert value(found, "comms_sender_backlog_oldest_seconds", sender=sender_id) is not None
    for digits in ("15017122699", "15558675330"):
        assert digits not in response.text


@pytest.mark.own_stack
async def test_webhook_deliveries_are_counted_by_type_and_outcome(
    client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings, redis: Redis, api_url: str
) -> None:
    processing = "com.twilio.comms-api.operation.processing"
    queued = "com.twilio.comms-api.message.queued"
    async with serve_receiver() as receiver:
        await create_webhook(client, f"{receiver.url}/hooks", [processing, queued])
        await send(client, ["+15558675340"])
        receiver.answers = [500]  # the first try (operation.processing) fails: tried again
        assert await relay(pool, settings, redis=redis) == 2
    found = await scrape(api_url)
    deliveries = "comms_webhook_deliveries_total"
    assert value(found, deliveries, event_type=processing, outcome="retried") == 1
    assert value(found, deliveries, event_type=queued, outcome="succeeded") == 1
    assert value(found, deliveries, event_type=processing, outcome="succeeded") is None


@pytest.mark.own_stack
async def test_the_status_callback_lag_is_measured(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, api_url: str
) -> None:
    lag = "comms_status_callback_lag_seconds_count"
    before = await scrape(api_url)
    await send_and_settle(client, sandbox, settings, ["+15558675350"])
    after = await scrape(api_url)
    for status in ("sent", "delivered"):
        assert (value(after, lag, status=status) or 0) - (
            value(before, lag, status=status) or 0
        ) == 1
    assert value(after, "comms_status_callback_lag_seconds_bucket", status="delivered", le="+Inf")
