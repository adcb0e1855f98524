"""Media (MMS), provider content templates and segment counts, from the API to the provider."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import httpx
import pytest

from sandbox.serving import serve_asgi
from sandbox.testing import MediaFile, MediaServer
from service import ids
from service.settings import Settings
from tests.support.workers import run_worker
from workers import settings as worker_settings
from workers.channels.http import ProviderClient

SMS_FROM = {"address": "+15017122661", "channel": "SMS"}
CONTENT_SID = "HX" + "0123456789abcdef" * 2
MEDIA = ["https://cdn.example.com/a.png", "https://cdn.example.com/b.jpg"]


@pytest.fixture
async def cdn(sandbox: httpx.AsyncClient) -> AsyncIterator[MediaServer]:
    """MEDIA served locally: the sandbox fetches an MMS's media before sending it."""
    server = MediaServer(
        {"/a.png": MediaFile("image/png", 2048), "/b.jpg": MediaFile("image/jpeg", 4096)}
    )
    async with serve_asgi(server) as url:
        server.base_url = url
        rewrites = {"https://cdn.example.com": url}
        answer = await sandbox.post("/sandbox/config", json={"media_url_rewrites": rewrites})
        assert answer.status_code == 200
        yield server


async def send(client: httpx.AsyncClient, **body: object) -> dict[str, Any]:
    response = await client.post("/v1/Messages", json={"from": SMS_FROM} | body)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


async def messages_of(client: httpx.AsyncClient, operation_id: str) -> dict[str, dict[str, Any]]:
    """The operation's messages by recipient address, with their attempts."""
    listed = await client.get("/v1/Messages", params={"operationId": operation_id})
    details = {}
    for message in listed.json()["messages"]:
        detail = await client.get(f"/v1/Messages/{message['id']}")
        details[message["to"][0]["address"]] = detail.json()
    return details


@pytest.mark.own_stack
async def test_media_goes_out_as_mms(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, cdn: MediaServer
) -> None:
    accepted = await send(
        client,
        to=[{"address": "+15558675310", "channel": "PHONE", "variables": {"name": "Ada"}}],
        content={"text": "Look, {{ name }}", "media": [{"url": url} for url in MEDIA]},
    )
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")

    message = (await messages_of(client, accepted["operationId"]))["+15558675310"]
    assert message["status"] == "DELIVERED"
    assert message["content"] == {"text": "Look, Ada", "media": [{"url": url} for url in MEDIA]}
    [attempt] = message["attempts"]
    assert attempt["id"].startswith("MM")
    assert attempt["channel"] == "SMS"
    [seen] = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert seen["sid"] == attempt["id"]
    assert seen["media_urls"] == MEDIA
    assert sorted(path for _, path in cdn.requests) == ["/a.png", "/b.jpg"]
    assert seen["body"] == "Look, Ada"
    provider = await sandbox.get(
        f"/2010-04-01/Accounts/{settings.provider_account_sid}/Messages/{seen['sid']}.json",
        auth=(settings.provider_account_sid, settings.provider_auth_token),
    )
    assert provider.json()["num_media"] == "2"


@pytest.mark.own_stack
async def test_an_mms_is_one_segment_whatever_the_length(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, cdn: MediaServer
) -> None:
    accepted = await send(
        client,
        to=[{"address": "+15558675310", "channel": "PHONE"}],
        content={"text": "m" * 400, "media": [{"url": MEDIA[0]}]},
    )
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")
    message = (await messages_of(client, accepted["operationId"]))["+15558675310"]
    [attempt] = message["attempts"]
    assert attempt["id"].startswith("MM")
    assert attempt["segments"] == 1
    [seen] = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert int(seen["num_segments"]) == 1


@pytest.mark.own_stack
async def test_media_only_without_text(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, cdn: MediaServer
) -> None:
    accepted = await send(
        client,
        to=[{"address": "+15558675310", "channel": "PHONE"}],
        content={"media": [{"url": MEDIA[0]}]},
    )
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")
    message = (await messages_of(client, accepted["operationId"]))["+15558675310"]
    assert message["status"] == "DELIVERED"
    [attempt] = message["attempts"]
    assert attempt["id"].startswith("MM")
    assert attempt["segments"] is None
    [seen] = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert (seen["body"], seen["media_urls"]) in ((None, [MEDIA[0]]), ("", [MEDIA[0]]))


async def test_media_urls_may_be_liquid_templates(client: httpx.AsyncClient) -> None:
    def body(*urls: str) -> dict[str, Any]:
        return {
            "to": [{"address": "+15558675310", "channel": "PHONE", "variables": {"id": "7"}}],
            "content": {"media": [{"url": url} for url in urls]},
            "from": SMS_FROM,
        }

    accepted = await client.post(
        "/v1/Messages", json=body("https://cdn.example.com/{{ id }}.png", "{{ url }}")
    )
    assert accepted.status_code == 202, accepted.text
    refused = await client.post(
        "/v1/Messages",
        json=body("https://cdn.example.com/{{ id", "{{ x | nope }}", "ftp://{{ id }}"),
    )
    assert refused.status_code == 400
    assert [e["context"] for e in refused.json()["errors"]] == [
        "$.content.media[0].url",
        "$.content.media[1].url",
        "$.content.media[2].url",
    ]


async def test_media_limits_are_checked_with_paths(client: httpx.AsyncClient) -> None:
    too_many = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675310", "channel": "PHONE"}],
            "content": {"media": [{"url": f"https://e.example/{i}.png"} for i in range(11)]},
            "from": SMS_FROM,
        },
    )
    assert too_many.status_code == 400
    assert [(e["code"], e["context"]) for e in too_many.json()["errors"]] == [
        (21623, "$.content.media")
    ]
    not_https = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675310", "channel": "PHONE"}],
            "content": {"media": [{"url": MEDIA[0]}, {"url": "http://e.example/a.png"}]},
            "from": SMS_FROM,
        },
    )
    assert not_https.status_code == 400
    assert [(e["code"], e["context"]) for e in not_https.json()["errors"]] == [
        (90001, "$.content.media[1].url")
    ]


@pytest.mark.own_stack
async def test_content_id_passes_through_as_content_sid(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    accepted = await send(
        client,
        # A sender of its own: draining it sends only this test's messages.
        **{"from": {"address": "+15017122690", "channel": "SMS"}},
        to=[
            {"address": "+15558675310", "channel": "PHONE", "variables": {"1": "Ada", "2": "9am"}},
            {"address": "+15558675311", "channel": "PHONE"},
        ],
        content={"contentId": CONTENT_SID},
    )
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")
    messages = await messages_of(client, accepted["operationId"])
    for message in messages.values():
        assert message["status"] == "DELIVERED"
        assert message["content"] == {"contentId": CONTENT_SID}
        assert message["attempts"][0]["id"].startswith("SM")
    seen = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert [m["content_sid"] for m in seen] == [CONTENT_SID, CONTENT_SID]
    assert {m["body"] for m in seen} <= {None, ""}


@pytest.mark.own_stack
async def test_content_variables_are_the_recipients_variables(
    client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    """What the provider receives, seen at the transport: ContentSid + ContentVariables JSON."""
    accepted = await send(
        client,
        # A sender of its own: draining it sends only this test's messages.
        **{"from": {"address": "+15017122690", "channel": "SMS"}},
        to=[
            {"address": "+15558675310", "channel": "PHONE", "variables": {"1": "Ada", "2": "9am"}},
            {"address": "+15558675311", "channel": "PHONE"},
        ],
        content={"contentId": CONTENT_SID},
    )
    forms: dict[str, dict[str, list[str]]] = {}

    def provider(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        forms[form["To"][0]] = form
        return httpx.Response(201, json={"sid": "SM" + uuid.uuid4().hex, "status": "queued"})

    transport = httpx.MockTransport(provider)
    async with ProviderClient(timeout_s=10, max_connections=10, transport=transport) as http:
        dispatcher = worker_settings.build_dispatcher(settings, pool, http)
        operation_id = ids.decode(ids.OPERATION, accepted["operationId"])
        assert operation_id is not None
        assert await dispatcher.run(operation_id) == 2

    first, second = forms["+15558675310"], forms["+15558675311"]
    assert first["ContentSid"] == [CONTENT_SID]
    assert json.loads(first["ContentVariables"][0]) == {"1": "Ada", "2": "9am"}
    assert "Body" not in first
    assert second["ContentSid"] == [CONTENT_SID]
    assert "ContentVariables" not in second


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters count twice: 160 septets
        ("€" * 81, 2),
        ("é" * 160, 1),  # é is in GSM-7's basic table
        ("ł" * 70, 1),  # not GSM-7: UCS-2, 70 per segment
        ("ł" * 71, 2),
        ("😀" * 35, 1),  # outside the BMP: two UTF-16 units each
        ("😀" * 36, 2),
    ],
)
@pytest.mark.own_stack
async def test_segments_are_stored_per_attempt(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    text: str,
    segments: int,
) -> None:
    accepted = await send(
        client, to=[{"address": "+15558675310", "channel": "PHONE"}], content={"text": text}
    )
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")
    message = (await messages_of(client, accepted["operationId"]))["+15558675310"]
    [attempt] = message["attempts"]
    assert attempt["segments"] == segments
    # The provider counts the same way.
    [seen] = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert int(seen["num_segments"]) == segments
