"""POST/GET/DELETE /v1/Webhooks: create, list, fetch, delete, validation, limits, tenancy."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from schemas.webhooks import MAX_ENDPOINTS_PER_ACCOUNT
from service.settings import Settings
from tests.support.api import all_pages
from tests.support.tenants import other_tenant
from tests.support.webhooks import create_webhook

URL = "https://hooks.example.com/comms"


def errors_of(response: httpx.Response) -> list[tuple[int, str | None]]:
    assert response.status_code == 400, response.text
    return [(e["code"], e["context"]) for e in response.json()["errors"]]


async def test_create_fetch_list_and_delete(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.post(
        "/v1/Webhooks",
        json={"url": URL, "eventTypes": ["com.twilio.comms-api.message.delivered"]},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"id", "url", "eventTypes", "createdAt", "secret"}
    assert created["id"].startswith("comms_webhook_")
    assert created["secret"].startswith("whsec_")
    assert response.headers["location"] == f"{settings.public_base_url}/v1/Webhooks/{created['id']}"
    shown = {k: v for k, v in created.items() if k != "secret"}

    fetched = await client.get(f"/v1/Webhooks/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == shown, "the secret is shown only once"
    assert (await client.get(f"/preview/Webhooks/{created['id']}")).json() == shown
    assert await all_pages(client, "/v1/Webhooks", "webhooks") == [shown]

    deleted = await client.delete(f"/v1/Webhooks/{created['id']}")
    assert deleted.status_code == 204
    gone = await client.get(f"/v1/Webhooks/{created['id']}")
    assert gone.status_code == 404
    assert gone.json()["errors"][0]["code"] == 20404
    assert (await client.delete(f"/v1/Webhooks/{created['id']}")).status_code == 404
    assert await all_pages(client, "/v1/Webhooks", "webhooks") == []


async def test_pages_are_newest_first(client: httpx.AsyncClient) -> None:
    made = [await create_webhook(client, f"{URL}/{i}") for i in range(3)]
    listed = await all_pages(client, "/v1/Webhooks", "webhooks", {"pageSize": 1})
    assert [w["id"] for w in listed] == [w["id"] for w in reversed(made)]
    bad = await client.get("/v1/Webhooks", params={"pageToken": "nonsense!"})
    assert bad.status_code == 400


async def test_every_problem_is_reported(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Webhooks",
        json={
            "url": "http://hooks.example.com/plain",
            "eventTypes": [
                "com.twilio.comms-api.message.sent",
                "com.twilio.comms-api.message.nope",
                "com.twilio.comms-api.message.sent",
            ],
        },
    )
    assert errors_of(response) == [
        (90030, "$.url"),
        (90032, "$.eventTypes[1]"),
        (90001, "$.eventTypes[2]"),
    ]
    empty = await client.post("/v1/Webhooks", json={"url": URL, "eventTypes": []})
    assert errors_of(empty) == [(90001, "$.eventTypes")]
    missing = await client.post("/v1/Webhooks", json={"url": URL})
    assert errors_of(missing) == [(90001, "$.eventTypes")]
    malformed: list[Any] = [[], {"url": 5, "eventTypes": ["x"]}, {"url": URL, "eventTypes": "x"}]
    for body in malformed:
        assert (await client.post("/v1/Webhooks", json=body)).status_code == 400
    garbage = await client.post(
        "/v1/Webhooks", content=b"\xff{", headers={"content-type": "application/json"}
    )
    assert garbage.status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://172.16.5.4:8443/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://100.64.0.1/hook",
        "https://user:pass@hooks.example.com/hook",
        "ftp://hooks.example.com/hook",
        "https:///nohost",
        "https://exa mple.com/space",
        "https://bad_host.example.com/underscore",
        "https://-dash.example.com/",
        "https://hooks.example.com:99999/bad-port",
        "https://hooks.example.com/" + "x" * 2100,
    ],
)
async def test_private_and_malformed_urls_are_refused(client: httpx.AsyncClient, url: str) -> None:
    response = await client.post(
        "/v1/Webhooks", json={"url": url, "eventTypes": ["com.twilio.comms-api.message.sent"]}
    )
    assert errors_of(response) == [(90030, "$.url")]


async def test_loopback_is_allowed_only_in_development_and_test(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert settings.webhook_loopback_allowed
    created = await create_webhook(client, "http://127.0.0.1:9/hook")
    assert created["url"] == "http://127.0.0.1:9/hook"
    production = Settings(database_url="x", redis_url="y", environment="production")
    assert not production.webhook_loopback_allowed


async def test_an_account_has_a_bounded_number_of_endpoints(client: httpx.AsyncClient) -> None:
    for i in range(MAX_ENDPOINTS_PER_ACCOUNT):
        await create_webhook(client, f"{URL}/{i}")
    response = await client.post(
        "/v1/Webhooks", json={"url": URL, "eventTypes": ["com.twilio.comms-api.message.sent"]}
    )
    assert errors_of(response) == [(90031, None)]


async def test_another_accounts_endpoint_is_not_found(
    client: httpx.AsyncClient, api_url: str, pool: asyncpg.Pool
) -> None:
    mine = await create_webhook(client, URL)
    other = await other_tenant(pool)
    async with httpx.AsyncClient(base_url=api_url, auth=other.auth) as theirs:
        for call in (
            theirs.get(f"/v1/Webhooks/{mine['id']}"),
            theirs.delete(f"/v1/Webhooks/{mine['id']}"),
            theirs.get(f"/v1/Webhooks/{mine['id']}/Deliveries"),
        ):
            response = await call
            assert response.status_code == 404
            assert response.json()["errors"][0]["code"] == 20404
        assert (await theirs.get("/v1/Webhooks")).json()["webhooks"] == []
    assert (await client.get(f"/v1/Webhooks/{mine['id']}")).status_code == 200
    for bad in ("nope", "comms_webhook_zzzz", "comms_senderpool_01m8h0jzqsechs3yv6kh2qxj5m"):
        assert (await client.get(f"/v1/Webhooks/{bad}")).status_code == 404
