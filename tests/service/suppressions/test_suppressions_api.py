"""GET/POST/DELETE /v1/Suppressions: create, list, lift, validation, tenancy, pages, dry run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from service.settings import Settings
from tests.support.api import all_pages, is_info_url, messages_of, operation, send, suppressed
from tests.support.provider import sandbox_sends_to, unique_number
from tests.support.tenants import other_tenant
from tests.support.workers import run_worker


async def create(client: httpx.AsyncClient, address: str) -> dict[str, Any]:
    response = await client.post("/v1/Suppressions", json={"address": address})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def error_of(response: httpx.Response) -> tuple[int, str | None]:
    [error] = response.json()["errors"]
    assert is_info_url(error["code"], error["infoUrl"]), error
    return error["code"], error["context"]


async def test_create_list_and_lift(client: httpx.AsyncClient, settings: Settings) -> None:
    address = unique_number()
    response = await client.post("/v1/Suppressions", json={"address": f"whatsapp:{address}"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"address", "source", "createdAt"}
    assert (created["address"], created["source"]) == (address, "API")
    assert response.headers["location"] == f"{settings.public_base_url}/v1/Suppressions/{address}"
    assert await create(client, address) == created, "suppressing again answers the entry"
    assert await suppressed(client, address) == [created]
    assert await suppressed(client, unique_number()) == []

    lifted = await client.delete(f"/v1/Suppressions/{address}")
    assert lifted.status_code == 204
    assert await suppressed(client, address) == []
    again = await client.delete(f"/v1/Suppressions/{address}")
    assert again.status_code == 404
    assert error_of(again) == (20404, None)
    # `+` written as %2B, and under /preview, reach the same resource.
    await create(client, address)
    assert (await client.delete(f"/preview/Suppressions/%2B{address[1:]}")).status_code == 204


@pytest.mark.own_stack
async def test_suppressing_through_the_api_cancels_waiting_messages(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    address, other = unique_number(), unique_number()
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    scheduled = await send(client, [address], schedule={"sendAt": [later]})
    await create(client, address)
    assert [m["status"] for m in await messages_of(client, scheduled)] == ["CANCELED"]
    assert (await operation(client, scheduled))["status"] == "COMPLETED"

    # A fallback recipient: the opted-out address is skipped, the next one is used.
    sent = await send(
        client,
        [
            {
                "addresses": [
                    {"address": address, "channel": "PHONE"},
                    {"address": other, "channel": "PHONE"},
                ]
            }
        ],
    )
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")
    [message] = await messages_of(client, sent)
    assert (message["status"], message["to"][0]["address"]) == ("DELIVERED", other)
    assert await sandbox_sends_to(sandbox, address) == []


@pytest.mark.parametrize(
    ("body", "code", "context"),
    [
        ({"address": "not a number"}, 21211, "$.address"),
        ({"address": "+1"}, 21211, "$.address"),
        ({"address": ""}, 21211, "$.address"),
        ({"address": "whatsapp:"}, 21211, "$.address"),
        ({"address": 15558675310}, 90001, "$.address"),
        ({}, 90001, "$.address"),
        ([], 90001, "$"),
    ],
)
async def test_create_refuses_what_is_not_an_address(
    client: httpx.AsyncClient, body: Any, code: int, context: str
) -> None:
    response = await client.post("/v1/Suppressions", json=body)
    assert response.status_code == 400, response.text
    assert error_of(response) == (code, context)


async def test_list_parameters_are_checked(client: httpx.AsyncClient) -> None:
    for params, code, context in (
        ({"pageSize": 0}, 90001, "$.pageSize"),
        ({"pageSize": 1001}, 90001, "$.pageSize"),
        ({"pageToken": "garbage"}, 90002, "$.pageToken"),
        ({"address": "x" * 65}, 90001, "$.address"),
    ):
        response = await client.get("/v1/Suppressions", params=params)
        assert response.status_code == 400, (params, response.text)
        assert error_of(response) == (code, context)
    for address in ("nonsense", "%00", "+"):
        response = await client.delete(f"/v1/Suppressions/{address}")
        assert response.status_code == 404, (address, response.text)


@pytest.mark.own_stack
async def test_an_account_sees_and_lifts_only_its_own(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    address = unique_number()
    await create(client, address)
    stranger = await other_tenant(pool)
    async with httpx.AsyncClient(base_url=settings.public_base_url, auth=stranger.auth) as theirs:
        assert (await theirs.get("/v1/Suppressions")).json()["suppressions"] == []
        assert await suppressed(theirs, address) == []
        assert (await theirs.delete(f"/v1/Suppressions/{address}")).status_code == 404
        # Their sends to the address go out: the suppression is ours.
        sent = await send(theirs, [address])
        await run_worker(settings)
        await sandbox.post("/sandbox/drain")
        assert [m["status"] for m in await messages_of(theirs, sent)] == ["DELIVERED"]
    assert len(await suppressed(client, address)) == 1
    assert (await anonymous.get("/v1/Suppressions")).status_code == 401


async def test_pages_are_newest_first_and_stable(client: httpx.AsyncClient) -> None:
    addresses = [unique_number() for _ in range(5)]
    for address in addresses:
        await create(client, address)
    first = (await client.get("/v1/Suppressions", params={"pageSize": 2})).json()
    assert [s["address"] for s in first["suppressions"]] == addresses[::-1][:2]
    await create(client, unique_number())  # a newer entry does not shift the next pages
    listed = await all_pages(
        client,
        "/v1/Suppressions",
        "suppressions",
        {"pageSize": 2, "pageToken": first["pagination"]["next"]},
    )
    assert [s["address"] for s in listed] == addresses[::-1][2:]
    again = (
        await client.get(
            "/v1/Suppressions", params={"pageSize": 2, "pageToken": first["pagination"]["self"]}
        )
    ).json()
    assert again["suppressions"][0]["address"] != addresses[-1], "self re-reads from the start"


async def test_dry_run_reports_suppressed_recipients(client: httpx.AsyncClient) -> None:
    opted_out, fine, fallback = unique_number(), unique_number(), unique_number()
    await create(client, opted_out)
    response = await client.post(
        "/v1/Messages/DryRun",
        json={
            "to": [
                {"address": opted_out, "channel": "PHONE"},
                {"address": fine, "channel": "PHONE"},
                {
                    "addresses": [
                        {"address": opted_out, "channel": "PHONE"},
                        {"address": fallback, "channel": "PHONE"},
                    ]
                },
            ],
            "content": {"text": "hi"},
            "from": {"address": "+15017122661", "channel": "SMS"},
        },
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["total"], result["queued"], result["failed"], result["suppressed"]) == (
        3,
        2,
        1,
        1,
    )
    blocked, sent, rerouted = result["recipients"]
    assert blocked["suppressed"] is True
    assert blocked["status"] == "FAILED"
    assert blocked["error"]["code"] == 21610
    assert (sent["suppressed"], sent["status"], sent["error"]) == (False, "QUEUED", None)
    assert (rerouted["suppressed"], rerouted["status"]) == (False, "QUEUED")
    assert rerouted["to"]["address"] == fallback
    [sender] = result["senders"]
    assert sender["messages"] == 2
