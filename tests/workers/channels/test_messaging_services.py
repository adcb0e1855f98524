"""Messaging Services as senders, from the API through a worker to the sandbox: the service
SID goes as MessagingServiceSid and the sandbox picks the number; a registered service's rate
and a long code outside +1 are paced as the provider counts; Liquid in media URLs; media the
provider refuses fail the message."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from sandbox.serving import serve_asgi
from sandbox.testing import MediaFile, MediaServer
from service import ids
from service.sending.channel import SendRequest
from service.settings import Settings
from tests.support.api import message_details
from tests.support.workers import settle
from workers import settings as worker_settings
from workers.channels.sms import MessagesApiChannel
from workers.ratelimit import RateLimiter, SenderLeases

# Every test here runs a worker: each gets a database and API of its own.
pytestmark = pytest.mark.own_stack

SERVICE = "MG" + "7e" * 16
POOL = ["+15017122680", "+15017122681"]
CDN = "https://cdn.example.com"


async def create_service(
    sandbox: httpx.AsyncClient, settings: Settings, sid: str, numbers: list[str]
) -> None:
    made = await sandbox.post(
        "/sandbox/messaging-services",
        json={"sid": sid, "account_sid": settings.provider_account_sid, "numbers": numbers},
    )
    assert made.status_code == 201, made.text


async def accepted_operation(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await client.post("/v1/Messages", json=body)
    assert response.status_code == 202, response.text
    operation_id: str = response.json()["operationId"]
    return operation_id


async def test_a_messaging_service_send_is_delivered_from_the_number_it_picked(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    await create_service(sandbox, settings, SERVICE, POOL)
    operation_id = await accepted_operation(
        client,
        {
            "to": [{"address": "+15558675500", "channel": "PHONE"}],
            "content": {"text": "from the pool"},
            "from": {"address": SERVICE},
        },
    )
    await settle(sandbox, settings)

    [message] = await message_details(client, operation_id)
    assert message["status"] == "DELIVERED"
    assert message["from"] == {"address": SERVICE, "channel": "SMS"}
    [attempt] = message["attempts"]
    [seen] = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert seen["sid"] == attempt["id"]
    assert seen["messaging_service_sid"] == SERVICE
    assert seen["from"] in POOL
    assert seen["status"] == "delivered"
    # The status callbacks the service received carried the service and the picked number.
    hooks = (await sandbox.get("/sandbox/webhooks")).json()["attempts"]
    callbacks = [h for h in hooks if h["kind"] == "status_callback"]
    assert callbacks
    assert {h["params"]["MessagingServiceSid"] for h in callbacks} == {SERVICE}
    assert {h["params"]["From"] for h in callbacks} == {seen["from"]}
    assert all(200 <= h["status_code"] < 300 for h in callbacks)


async def test_a_messaging_service_sends_whatsapp_templates(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    await create_service(sandbox, settings, SERVICE, ["whatsapp:+15017122682"])
    operation_id = await accepted_operation(
        client,
        {
            "to": [{"address": "whatsapp:+15558675501", "channel": "WHATSAPP"}],
            "content": {"contentId": "HX" + "1" * 32},
            "from": {"address": SERVICE, "channel": "WHATSAPP"},
        },
    )
    await settle(sandbox, settings)
    [message] = await message_details(client, operation_id)
    assert message["status"] == "DELIVERED"
    [seen] = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert (seen["from"], seen["messaging_service_sid"]) == ("whatsapp:+15017122682", SERVICE)


async def test_a_service_the_provider_does_not_know_fails_with_21701(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    operation_id = await accepted_operation(
        client,
        {
            "to": [{"address": "+15558675502", "channel": "PHONE"}],
            "content": {"text": "nobody's"},
            "from": {"address": "MG" + "0" * 32, "channel": "SMS"},
        },
    )
    await settle(sandbox, settings)
    [message] = await message_details(client, operation_id)
    assert message["status"] == "FAILED"
    [attempt] = message["attempts"]
    assert attempt["error"]["code"] == 21701
    assert (await sandbox.get("/sandbox/messages")).json()["messages"] == []


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


@pytest.mark.parametrize(
    ("sender", "registered_mps", "rate"),
    [
        ("+447700900123", None, 10),  # a UK long code, unregistered: 10 a second
        (SERVICE, 5.0, 5),  # a Messaging Service registered with its own rate
    ],
    ids=["long-code-outside-+1", "registered-service"],
)
async def test_the_default_and_registered_rates_hold_in_the_providers_seconds(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    redis: Redis,
    sender: str,
    registered_mps: float | None,
    rate: int,
) -> None:
    if registered_mps is not None:
        registered = await client.post(
            "/v1/Senders", json={"address": sender, "channel": "SMS", "mps": registered_mps}
        )
        assert registered.status_code == 201, registered.text
        assert registered.json()["kind"] == "MESSAGING_SERVICE"
    count = 3 * rate
    operation_id = await accepted_operation(
        client,
        {
            "to": [{"address": f"+1555869{n:04d}", "channel": "PHONE"} for n in range(count)],
            "content": {"text": "paced"},
            "from": {"address": sender, "channel": "SMS"},
        },
    )
    key = ids.decode(ids.OPERATION, operation_id)
    # The test stack lets unregistered senders go unthrottled; here they get their kind's
    # default, as in production.
    paced = msgspec.structs.replace(settings, unregistered_sender_mps=None)
    http = worker_settings.provider_client(paced)
    dispatcher = worker_settings.build_dispatcher(
        paced, pool, http, limiter=RateLimiter(redis), leases=SenderLeases(redis)
    )
    try:
        for _ in range(40):
            await dispatcher.run(key)
            left = await pool.fetchval(
                "SELECT count(*) FROM messages WHERE operation_id = $1 AND due_at IS NOT NULL",
                key,
            )
            if left == 0:
                break
    finally:
        await http.aclose()

    sent = (await sandbox.get("/sandbox/messages")).json()["messages"]
    times = [m["received_at"] for m in sent]
    assert len(times) == count
    busiest = most_in_one_second(times)
    # Never more than the rate in any second of the provider's own stamps; and more than one
    # (a US long code's rate), so the rate is the sender's and not 1.
    assert 1 < busiest <= rate


@pytest.fixture
async def media() -> AsyncIterator[MediaServer]:
    server = MediaServer(
        {
            "/ada.png": MediaFile("image/png", 4096),
            "/bob.png": MediaFile("image/png", 2048),
            "/terms.pdf": MediaFile("application/pdf", 2048),
            "/huge.jpg": MediaFile("image/jpeg", 6 * 1024 * 1024),
        }
    )
    async with serve_asgi(server) as url:
        server.base_url = url
        yield server


async def test_media_urls_are_liquid_rendered_per_recipient(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, media: MediaServer
) -> None:
    rewrites = await sandbox.post(
        "/sandbox/config", json={"media_url_rewrites": {CDN: media.url("")}}
    )
    assert rewrites.status_code == 200
    operation_id = await accepted_operation(
        client,
        {
            "to": [
                {"address": "+15558675510", "channel": "PHONE", "variables": {"who": "ada"}},
                {"address": "+15558675511", "channel": "PHONE", "variables": {"who": "bob"}},
                {"address": "+15558675512", "channel": "PHONE", "variables": {"link": "ftp://x"}},
            ],
            "content": {
                "text": "Hi {{ who }}",
                "media": [{"url": CDN + "/{{ who }}.png"}],
            },
            "from": {"address": "+15017122683", "channel": "SMS"},
        },
    )
    # The third recipient's URL renders as https://cdn.example.com/.png: a 404 at the CDN.
    await settle(sandbox, settings)
    by_address = {m["to"][0]["address"]: m for m in await message_details(client, operation_id)}
    assert by_address["+15558675510"]["status"] == "DELIVERED"
    assert by_address["+15558675510"]["content"]["media"] == [{"url": f"{CDN}/ada.png"}]
    assert by_address["+15558675511"]["content"]["media"] == [{"url": f"{CDN}/bob.png"}]
    seen = {m["to"]: m for m in (await sandbox.get("/sandbox/messages")).json()["messages"]}
    assert seen["+15558675510"]["media_urls"] == [f"{CDN}/ada.png"]
    assert seen["+15558675511"]["media_urls"] == [f"{CDN}/bob.png"]
    assert sorted(path for _, path in media.requests) == ["/.png", "/ada.png", "/bob.png"]
    third = by_address["+15558675512"]
    assert third["status"] == "FAILED"
    assert third["attempts"][0]["error"]["code"] == 11200


async def test_a_media_url_that_renders_to_no_https_url_is_refused_per_recipient(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    operation_id = await accepted_operation(
        client,
        {
            "to": [
                {"address": "+15558675520", "channel": "PHONE", "variables": {"u": "ftp://x/a"}},
                {"address": "+15558675521", "channel": "PHONE", "variables": {"u": "{{"}},
            ],
            "content": {"text": "see", "media": [{"url": "{{ u }}"}]},
            "from": {"address": "+15017122684", "channel": "SMS"},
        },
    )
    await settle(sandbox, settings)
    details = await message_details(client, operation_id)
    assert {m["status"] for m in details} == {"FAILED"}
    for message in details:
        assert message["attempts"] == []
    errors = (await client.get(f"/v1/Messages/Operations/{operation_id}/Errors")).json()
    assert [(c["code"], c["count"]) for c in errors["counts"]] == [(21620, 2)]
    assert (await sandbox.get("/sandbox/messages")).json()["messages"] == []


@pytest.mark.parametrize(("path", "code"), [("/terms.pdf", 12300), ("/huge.jpg", 11751)])
async def test_media_the_provider_cannot_send_fail_the_message(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    media: MediaServer,
    path: str,
    code: int,
) -> None:
    await sandbox.post("/sandbox/config", json={"media_url_rewrites": {CDN: media.url("")}})
    operation_id = await accepted_operation(
        client,
        {
            "to": [{"address": "+15558675530", "channel": "PHONE"}],
            "content": {"text": "attached", "media": [{"url": CDN + path}]},
            "from": {"address": "+15017122685", "channel": "SMS"},
        },
    )
    # The failure comes in a status callback, after the provider accepted the message; the
    # drain in settle returns once the service has answered it.
    await settle(sandbox, settings)
    [message] = await message_details(client, operation_id)
    assert message["status"] == "FAILED"
    [attempt] = message["attempts"]
    assert attempt["error"]["code"] == code


async def test_a_lost_answer_to_a_service_send_is_found_by_recipient_and_service(
    sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    """After a lost answer the worker looks the attempt up: a service's message shows the
    number it picked as From, so the lookup goes by To and the service."""
    http = worker_settings.provider_client(settings)
    channel = MessagesApiChannel(
        http,
        base_url=settings.provider_base_url,
        account_sid=settings.provider_account_sid,
        auth_token=settings.provider_auth_token,
        status_callback_url="http://127.0.0.1:1/callbacks/twilio/messages/status",
    )
    began = datetime.now(UTC)
    to = "+15558675540"

    def request(body: str, sender: str) -> SendRequest:
        return SendRequest(attempt_id=uuid.uuid4(), to=to, from_=sender, body=body)

    try:
        mine = await channel.send(request("mine", SERVICE))
        other = await channel.send(request("mine", "MG" + "8f" * 16))
        direct = await channel.send(request("mine", "+15017122686"))
        assert {mine.verdict, other.verdict, direct.verdict} == {"ACCEPTED"}
        await sandbox.post("/sandbox/drain")
        found = await channel.find_submitted(
            attempt_id=uuid.uuid4(), to=to, from_=SERVICE, since=began, body="mine"
        )
        assert found == [mine.provider_sid]
        assert await channel.find_submitted(
            attempt_id=uuid.uuid4(), to=to, from_="+15017122686", since=began, body="mine"
        ) == [direct.provider_sid]
    finally:
        await http.aclose()
