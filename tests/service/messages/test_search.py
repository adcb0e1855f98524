"""POST /v1/Messages/Search (the list's filters in a body) and GET /v1/Messages/Seek."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from service.settings import Settings
from tests.support.api import all_pages, send
from tests.support.tenants import other_tenant
from tests.support.workers import run_worker


async def search(
    client: httpx.AsyncClient, body: dict[str, Any], **params: str | int
) -> httpx.Response:
    return await client.post("/v1/Messages/Search", params=params, json=body)


async def test_search_answers_what_the_list_answers(client: httpx.AsyncClient) -> None:
    spring = await send(client, ["+15558675310", "+15558675311"], tags={"campaign": "spring"})
    await send(client, ["+15558675310"], tags={"campaign": "spring", "wave": "2"})
    await send(client, ["+15558675312"], tags={"campaign": "autumn"})
    cases: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({}, {}),
        ({"operationId": spring}, {"operationId": spring}),
        ({"status": "queued"}, {"status": "queued"}),
        ({"channel": "PHONE"}, {"channel": "PHONE"}),
        ({"address": "+15558675310"}, {"address": "+15558675310"}),
        ({"tags": {"campaign": "spring"}}, {"tags": "campaign:spring;"}),
        ({"tags": {"campaign": "spring", "wave": "2"}}, {"tags": "campaign:spring;wave:2;"}),
        (
            {"startDate": "2000-01-01T00:00:00Z", "endDate": "2100-01-01T00:00:00.000+01:00"},
            {"startDate": "2000-01-01T00:00:00Z", "endDate": "2100-01-01T00:00:00.000+01:00"},
        ),
        ({"tags": {}}, {}),  # an empty map filters nothing
    ]
    for body, params in cases:
        listed = await all_pages(client, "/v1/Messages", "messages", {**params, "pageSize": 1})
        searched = await all_pages(
            client, "/v1/Messages/Search", "messages", {"pageSize": 1}, json=body
        )
        assert searched == listed, body
        assert listed, body
    nothing = await search(client, {"tags": {"campaign": "spring", "wave": "3"}})
    assert nothing.json() == {
        "messages": [],
        "pagination": {"next": None, "self": nothing.json()["pagination"]["self"]},
    }


async def test_search_tags_are_any_strings(client: httpx.AsyncClient) -> None:
    await send(client, ["+15558675310"], tags={"team": "growth & retention", "wave": "2"})
    await send(client, ["+15558675311"], tags={"team": "growth"})
    found = await search(client, {"tags": {"team": "growth & retention"}})
    assert [m["to"][0]["address"] for m in found.json()["messages"]] == ["+15558675310"]


async def test_search_pages_by_query_parameters(client: httpx.AsyncClient) -> None:
    await send(client, [f"+1555867{n:04d}" for n in range(5)], tags={"k": "v"})
    body: dict[str, Any] = {"tags": {"k": "v"}, "channel": "phone"}
    first = (await search(client, body, pageSize=2)).json()
    assert len(first["messages"]) == 2
    second = (await search(client, body, pageSize=2, pageToken=first["pagination"]["next"])).json()
    assert {m["id"] for m in first["messages"]}.isdisjoint(m["id"] for m in second["messages"])
    other = await search(client, {"tags": {"k": "w"}}, pageToken=first["pagination"]["next"])
    assert other.status_code == 400
    assert other.json()["errors"][0]["context"] == "$.pageToken"
    bad = await search(client, body, pageToken="garbage")
    assert bad.status_code == 400


async def test_search_reports_every_bad_field(client: httpx.AsyncClient) -> None:
    response = await search(
        client,
        {
            "operationId": "nope",
            "status": "LOST",
            "channel": "FAX",
            "tags": {f"k{n}": "v" for n in range(11)},
            "startDate": "2026-11-02T00:00:00Z",
            "endDate": "2026-11-01T00:00:00Z",
            "sessionId": "ignored: unknown fields are",
        },
    )
    assert response.status_code == 400
    contexts = sorted(e["context"] for e in response.json()["errors"])
    assert contexts == ["$.channel", "$.endDate", "$.operationId", "$.status", "$.tags"]


@pytest.mark.parametrize(
    ("body", "context"),
    [
        ({"status": 5}, "$.status"),
        ({"tags": {"k": 1}}, "$.tags[...]"),  # msgspec names a map value so
        ({"tags": ["k:v"]}, "$.tags"),
        ({"tags": {"k" * 129: "v"}}, "$.tags." + "k" * 129),
    ],
)
async def test_search_body_types_are_checked(
    client: httpx.AsyncClient, body: dict[str, object], context: str
) -> None:
    response = await search(client, body)
    assert response.status_code == 400, response.text
    assert [e["context"] for e in response.json()["errors"]] == [context]


async def test_search_needs_a_json_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/Messages/Search", content=b"not json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == 90001


async def test_search_isolates_tenants(
    client: httpx.AsyncClient, api_url: str, pool: asyncpg.Pool
) -> None:
    operation = await send(client, ["+15558675310"], tags={"k": "v"})
    other = await other_tenant(pool)
    async with httpx.AsyncClient(base_url=api_url, auth=other.auth) as stranger:
        for body in ({}, {"operationId": operation}, {"tags": {"k": "v"}}):
            response = await stranger.post("/v1/Messages/Search", json=body)
            assert response.status_code == 200
            assert response.json()["messages"] == []


# Seek --------------------------------------------------------------------------------------


@pytest.mark.own_stack
async def test_seek_redirects_to_the_message_of_a_provider_sid(
    client: httpx.AsyncClient,
    settings: Settings,
    sandbox: httpx.AsyncClient,
    api_url: str,
    pool: asyncpg.Pool,
) -> None:
    operation = await send(client, ["+15558675310", "+15558675311"])
    await run_worker(settings)
    messages = (await client.get("/v1/Messages", params={"operationId": operation})).json()
    message = messages["messages"][0]
    detail = (await client.get(f"/v1/Messages/{message['id']}")).json()
    sid = detail["attempts"][0]["id"]
    assert sid.startswith("SM")

    found = await client.get("/v1/Messages/Seek", params={"identifier": sid})
    assert found.status_code == 307
    assert found.headers["location"] == f"{settings.public_base_url}/v1/Messages/{message['id']}"
    followed = await client.get(found.headers["location"])
    assert followed.json()["id"] == message["id"]

    preview = await client.get("/preview/Messages/Seek", params={"identifier": sid})
    assert preview.status_code == 307
    assert preview.headers["location"].endswith(f"/preview/Messages/{message['id']}")

    unknown = await client.get("/v1/Messages/Seek", params={"identifier": "SM" + "0" * 32})
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["code"] == 20404

    other = await other_tenant(pool)
    async with httpx.AsyncClient(base_url=api_url, auth=other.auth) as stranger:
        response = await stranger.get("/v1/Messages/Seek", params={"identifier": sid})
        assert response.status_code == 404


async def test_seek_needs_an_identifier(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/Messages/Seek")
    assert response.status_code == 400
    assert response.json()["errors"][0]["context"] == "$.identifier"
    empty = await client.get("/v1/Messages/Seek", params={"identifier": ""})
    assert empty.status_code == 400
