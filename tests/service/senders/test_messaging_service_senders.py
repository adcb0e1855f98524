"""Messaging Services as senders (MG…), default rates by kind (long codes outside +1 at 10),
the 4-hour sender queue, and the sandbox agreeing with the service on all of these."""

from __future__ import annotations

import random
import uuid

import asyncpg
import httpx
import pytest

from sandbox import media as sandbox_media
from sandbox import rates as sandbox_rates
from sandbox.messages import logic as sandbox_messages
from schemas import messages as wire
from service.senders import kinds
from service.senders import rates as service_rates

SERVICE = "MG" + "0123456789abcdef" * 2


def unique_service() -> str:
    """A Messaging Service SID no other test uses (rates are looked up across accounts)."""
    return "MG" + uuid.uuid4().hex


def unique_sender() -> str:
    """A US long code no other test sends from, so its backlog is this test's alone."""
    return f"+1415{random.randrange(10**6, 10**7)}"


@pytest.mark.parametrize(
    ("body", "kind", "mps"),
    [
        ({"address": SERVICE, "channel": "SMS"}, "MESSAGING_SERVICE", 10.0),
        ({"address": SERVICE, "channel": "whatsapp", "mps": 25}, "MESSAGING_SERVICE", 25.0),
        (
            {"address": SERVICE, "channel": "SMS", "kind": "messaging_service"},
            "MESSAGING_SERVICE",
            10.0,
        ),
        ({"address": "+447700900123", "channel": "SMS"}, "LONG_CODE", 10.0),
        ({"address": "+33612345678", "channel": "SMS", "kind": "LONG_CODE"}, "LONG_CODE", 10.0),
        ({"address": "+16135550123", "channel": "SMS"}, "LONG_CODE", 1.0),
    ],
)
async def test_kinds_and_default_rates(
    client: httpx.AsyncClient, body: dict[str, object], kind: str, mps: float
) -> None:
    response = await client.post("/v1/Senders", json=body)
    assert response.status_code == 201, response.text
    sender = response.json()
    assert (sender["address"], sender["kind"], sender["mps"]) == (body["address"], kind, mps)


@pytest.mark.parametrize(
    ("body", "context"),
    [
        ({"address": SERVICE, "channel": "CONVERSATIONS"}, "$.address"),
        ({"address": SERVICE, "channel": "SMS", "kind": "LONG_CODE"}, "$.kind"),
        ({"address": "+15017122661", "channel": "SMS", "kind": "MESSAGING_SERVICE"}, "$.kind"),
        ({"address": "MG" + "z" * 32, "channel": "SMS"}, "$.address"),
    ],
)
async def test_a_service_sid_and_its_kind_go_together(
    client: httpx.AsyncClient, body: dict[str, object], context: str
) -> None:
    response = await client.post("/v1/Senders", json=body)
    assert response.status_code == 400, response.text
    assert context in {e["context"] for e in response.json()["errors"]}


async def test_a_send_from_a_service_sid_needs_no_channel(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675600", "channel": "PHONE"}],
            "content": {"text": "hi"},
            "from": {"address": SERVICE},
        },
    )
    assert response.status_code == 202, response.text
    listed = await client.get(
        "/v1/Messages", params={"operationId": response.json()["operationId"]}
    )
    [message] = listed.json()["messages"]
    assert message["from"] == {"address": SERVICE, "channel": "SMS"}
    assert message["status"] == "QUEUED"
    refused = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675600", "channel": "CONVERSATIONS"}],
            "content": {"text": "hi"},
            "from": {"address": SERVICE, "channel": "CONVERSATIONS"},
        },
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["context"] == "$.from.address"


async def test_rates_of_services_and_long_codes(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    registered = unique_service()
    answer = await client.post(
        "/v1/Senders", json={"address": registered, "channel": "SMS", "mps": 7}
    )
    assert answer.status_code == 201, answer.text
    keys = [f"SMS:{SERVICE}", f"SMS:{registered}", "SMS:+447700900123", "SMS:+15017122661"]
    assert await service_rates.rates_for(pool, keys) == {
        f"SMS:{SERVICE}": 10.0,
        f"SMS:{registered}": 7.0,
        "SMS:+447700900123": 10.0,
        "SMS:+15017122661": 1.0,
    }


async def test_a_sender_queue_holds_four_hours_not_ten(client: httpx.AsyncClient) -> None:
    # 0.001 a second: 4 hours hold 14 one-segment messages (10 hours would hold 36); the
    # default validity period (10 hours) is not what limits them.
    address = unique_sender()
    answer = await client.post(
        "/v1/Senders", json={"address": address, "channel": "SMS", "mps": 0.001}
    )
    assert answer.status_code == 201, answer.text
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": f"+155586756{i:02d}", "channel": "PHONE"} for i in range(20)],
            "content": {"text": "hi"},
            "from": {"address": address, "channel": "SMS"},
        },
    )
    assert response.status_code == 202, response.text
    operation = (await client.get(response.headers["location"])).json()
    assert (operation["stats"]["queued"], operation["stats"]["failed"]) == (14, 6)
    errors = await client.get(f"/v1/Messages/Operations/{response.json()['operationId']}/Errors")
    assert [(c["code"], c["count"]) for c in errors.json()["counts"]] == [(30001, 6)]


@pytest.mark.parametrize(
    ("address", "channel", "sandbox_address"),
    [
        ("+15017122661", "SMS", "+15017122661"),
        ("+16135550123", "SMS", "+16135550123"),
        ("+447700900123", "SMS", "+447700900123"),
        ("+4915123456789", "SMS", "+4915123456789"),
        ("+18005550100", "SMS", "+18005550100"),
        ("55555", "SMS", "55555"),
        ("ACME", "SMS", "ACME"),
        ("+15017122661", "WHATSAPP", "whatsapp:+15017122661"),
        (SERVICE, "SMS", SERVICE),
    ],
)
def test_the_sandbox_and_the_service_agree_on_default_rates(
    address: str, channel: str, sandbox_address: str
) -> None:
    provider = sandbox_rates.SenderQueues(default_mps=None)
    assert kinds.default_mps(address, channel) == provider.mps_for(sandbox_address)


def test_the_sandbox_and_the_service_agree_on_queues_and_media() -> None:
    assert service_rates.MAX_QUEUE_S == sandbox_rates.MAX_QUEUE_S == 4 * 60 * 60
    assert wire.MAX_MEDIA == sandbox_messages.MAX_MEDIA
    assert wire.MAX_TEXT == sandbox_messages.MAX_BODY_CHARS
    assert sandbox_media.MAX_MEDIA_BYTES == 5 * 1024 * 1024
