"""GET /v1/Messages/Operations: newest first, filters, pages, tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from service.settings import Settings
from tests.support.api import all_pages, send
from tests.support.clock import TestClock as PinnableClock
from tests.support.tenants import other_tenant
from tests.support.workers import run_worker


def in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_operations_newest_first_with_stats(client: httpx.AsyncClient) -> None:
    first = await send(client, ["+15558675310", "+15558675311"], tags={"campaign": "spring"})
    second = await send(client, ["+15558675312"])
    page = (await client.get("/v1/Messages/Operations")).json()
    assert [o["id"] for o in page["operations"]] == [second, first]
    assert page["pagination"]["next"] is None
    listed = page["operations"][1]
    fetched = (await client.get(f"/v1/Messages/Operations/{first}")).json()
    assert listed == fetched
    assert listed["stats"]["total"] == listed["stats"]["queued"] == 2
    assert listed["tags"] == {"campaign": "spring"}


@pytest.mark.own_stack
async def test_operation_filters(
    client: httpx.AsyncClient, settings: Settings, clock: PinnableClock
) -> None:
    earlier = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    clock.pinned = earlier
    try:
        done = await send(client, ["+15558675310"], tags={"campaign": "spring", "wave": "1"})
    finally:
        clock.pinned = None
    await run_worker(settings)
    scheduled = await send(
        client,
        ["+15558675311"],
        tags={"campaign": "spring", "wave": "2"},
        schedule={"sendAt": [in_an_hour()]},
    )
    queued = await send(client, ["+15558675312"], tags={"campaign": "autumn"})
    canceled = await send(client, ["+15558675313"], schedule={"sendAt": [in_an_hour()]})
    assert (await client.post(f"/v1/Messages/Operations/{canceled}/Cancel")).status_code == 202

    async def ids_for(**params: str) -> list[str]:
        response = await client.get("/v1/Messages/Operations", params=params)
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["operations"]]

    assert await ids_for() == [canceled, queued, scheduled, done]
    assert await ids_for(status="COMPLETED") == [done]
    assert await ids_for(status="scheduled") == [scheduled]
    assert await ids_for(status="PROCESSING") == [queued]
    assert await ids_for(status="CANCELED") == [canceled]
    assert await ids_for(tags="campaign:spring;") == [scheduled, done]
    assert await ids_for(tags="campaign:spring;wave:1;") == [done]
    assert await ids_for(tags="campaign:spring;", status="SCHEDULED") == [scheduled]
    middle = (earlier + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    start = earlier.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await ids_for(endDate=middle) == [done]
    assert await ids_for(startDate=middle) == [canceled, queued, scheduled]
    assert await ids_for(startDate=start, endDate=middle) == [done], "startDate is inclusive"
    assert await ids_for(startDate=middle, tags="campaign:spring;") == [scheduled]


async def test_operation_pages(client: httpx.AsyncClient) -> None:
    created = [await send(client, ["+15558675310"], tags={"n": str(n)}) for n in range(7)]
    for size in (1, 2, 3, 7):
        walked = await all_pages(
            client, "/v1/Messages/Operations", "operations", {"pageSize": size}
        )
        assert [o["id"] for o in walked] == created[::-1]
    first = (await client.get("/v1/Messages/Operations", params={"pageSize": 3})).json()
    newcomer = await send(client, ["+15558675310"])
    rest = await all_pages(
        client,
        "/v1/Messages/Operations",
        "operations",
        {"pageSize": 3, "pageToken": first["pagination"]["next"]},
    )
    assert [o["id"] for o in first["operations"] + rest] == created[::-1]
    assert newcomer not in {o["id"] for o in rest}


@pytest.mark.parametrize(
    ("params", "contexts"),
    [
        ({"status": "DONE"}, ["$.status"]),
        ({"tags": "x"}, ["$.tags"]),
        ({"startDate": "soon", "endDate": "later"}, ["$.startDate", "$.endDate"]),
        ({"startDate": "2026-11-02T00:00:00Z", "endDate": "2026-11-01T00:00:00Z"}, ["$.endDate"]),
        ({"pageToken": "garbage"}, ["$.pageToken"]),
        ({"pageSize": "0"}, ["$.pageSize"]),
    ],
)
async def test_bad_operation_filters(
    client: httpx.AsyncClient, params: dict[str, Any], contexts: list[str]
) -> None:
    response = await client.get("/v1/Messages/Operations", params=params)
    assert response.status_code == 400
    assert [e["context"] for e in response.json()["errors"]] == contexts


async def test_operations_of_another_account_never_show(
    client: httpx.AsyncClient, api_url: str, pool: asyncpg.Pool
) -> None:
    await send(client, ["+15558675310"], tags={"k": "v"})
    other = await other_tenant(pool)
    async with httpx.AsyncClient(base_url=api_url, auth=other.auth) as stranger:
        for params in ({}, {"tags": "k:v;"}, {"status": "PROCESSING"}):
            response = await stranger.get("/v1/Messages/Operations", params=params)
            assert response.json()["operations"] == [], params
