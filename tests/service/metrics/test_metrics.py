"""GET /metrics: the HTTP server's requests, the send queue per sender, and every worker's
provider calls (added up in Redis), in Prometheus text that Prometheus's own parser reads."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.settings import Settings
from tests.support.workers import run_worker

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
    sender = "SMS:" + SENDER["address"]
    assert value(waiting, "comms_sender_backlog_messages", sender=sender) == 3
    oldest = value(waiting, "comms_sender_backlog_oldest_seconds", sender=sender)
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
