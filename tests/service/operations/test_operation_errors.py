"""GET /v1/Messages/Operations/{id}/Errors: failed and undelivered messages, counts per code."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from service import ids
from service.settings import Settings
from tests.support.api import all_pages, send
from tests.support.tenants import other_tenant
from tests.support.workers import run_worker

FAILS_21211 = "+15005550001"
UNDELIVERED_30003 = "+15005550010"
UNDELIVERED_30005 = "+15005550011"


@pytest.mark.own_stack
async def test_errors_and_counts_per_code(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    to = [
        FAILS_21211,
        "+15558675310",
        UNDELIVERED_30003,
        FAILS_21211,
        UNDELIVERED_30005,
        "+15558675311",
        FAILS_21211,
    ]
    operation = await send(client, to)
    await run_worker(settings)
    assert (await sandbox.post("/sandbox/drain")).status_code == 200

    path = f"/v1/Messages/Operations/{operation}/Errors"
    first = (await client.get(path, params={"pageSize": 2})).json()
    assert first["counts"] == [
        {"code": 21211, "count": 3},
        {"code": 30003, "count": 1},
        {"code": 30005, "count": 1},
    ]
    errors = await all_pages(client, path, "errors", {"pageSize": 2})
    assert len(errors) == 5
    messages = (await client.get("/v1/Messages", params={"operationId": operation})).json()
    failing = [m for m in messages["messages"] if m["status"] in ("FAILED", "UNDELIVERED")]
    assert [e["messageId"] for e in errors] == [m["id"] for m in failing], "newest first"
    by_address = {e["to"][0]["address"]: e for e in errors}
    assert by_address[UNDELIVERED_30003]["status"] == "UNDELIVERED"
    assert by_address[UNDELIVERED_30003]["error"]["code"] == 30003
    failed = by_address[FAILS_21211]
    assert failed["status"] == "FAILED"
    assert failed["to"] == [{"address": FAILS_21211, "channel": "PHONE"}]
    assert failed["error"]["code"] == 21211
    assert failed["error"]["message"]
    assert failed["error"]["infoUrl"] == "https://www.twilio.com/docs/api/errors/21211"
    assert failed["updatedAt"].endswith("Z")

    second = (
        await client.get(path, params={"pageSize": 2, "pageToken": first["pagination"]["next"]})
    ).json()
    assert second["counts"] == first["counts"], "counts cover the whole operation on every page"


async def test_an_operation_without_errors(
    client: httpx.AsyncClient, settings: Settings, sandbox: httpx.AsyncClient
) -> None:
    operation = await send(client, ["+15558675310"])
    response = await client.get(f"/v1/Messages/Operations/{operation}/Errors")
    assert response.status_code == 200
    body = response.json()
    assert body["errors"] == []
    assert body["counts"] == []
    assert body["pagination"]["next"] is None


@pytest.mark.own_stack
async def test_errors_tokens_and_tenancy(
    client: httpx.AsyncClient, settings: Settings, api_url: str, pool: asyncpg.Pool
) -> None:
    first = await send(client, [FAILS_21211, FAILS_21211])
    await run_worker(settings)
    second = await send(client, ["+15558675310"])
    token = (
        await client.get(f"/v1/Messages/Operations/{first}/Errors", params={"pageSize": 1})
    ).json()["pagination"]["next"]
    assert token is not None
    foreign_token = await client.get(
        f"/v1/Messages/Operations/{second}/Errors", params={"pageToken": token}
    )
    assert foreign_token.status_code == 400, "a token is bound to its operation"
    assert foreign_token.json()["errors"][0]["context"] == "$.pageToken"
    garbage = await client.get(
        f"/v1/Messages/Operations/{first}/Errors", params={"pageToken": "garbage"}
    )
    assert garbage.status_code == 400

    other = await other_tenant(pool)
    async with httpx.AsyncClient(base_url=api_url, auth=other.auth) as stranger:
        response = await stranger.get(f"/v1/Messages/Operations/{first}/Errors")
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == 20404
    unknown = ids.encode(ids.OPERATION, ids.uuid7())
    for candidate in (unknown, "nonsense"):
        response = await client.get(f"/v1/Messages/Operations/{candidate}/Errors")
        assert response.status_code == 404
