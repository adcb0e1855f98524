"""GET /v1/Messages: every filter and their combinations, keyset pages, tokens, tenancy."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from service.pagination import encode_token
from service.settings import Settings
from tests.support.api import all_pages, send
from tests.support.clock import TestClock as PinnableClock
from tests.support.factories import StoredMessage, insert_operation
from tests.support.tenants import Tenant, other_tenant
from tests.support.workers import run_worker


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Dataset:
    """Four operations at known times, with every status the worker and sandbox produce."""

    messages: list[dict[str, Any]]  # the unfiltered list, newest first
    a: str
    b: str
    c: str
    d: str
    times: list[datetime]


async def build_dataset(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    tenant: Tenant,
    clock: PinnableClock,
    settings: Settings,
    sandbox: httpx.AsyncClient,
) -> Dataset:
    # Hours ago, not days: the worker would expire messages older than their validity period.
    t1 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    times = [t1, t1 + timedelta(hours=1), t1 + timedelta(hours=2), t1 + timedelta(hours=2.5)]
    sends: list[tuple[list[Any], dict[str, str]]] = [
        # The second recipient fails with 21211.
        (["+15558675310", "+15005550001", "+15558675311"], {"campaign": "spring", "wave": "1"}),
        # The second recipient ends UNDELIVERED (30003).
        (["+15558675310", "+15005550010"], {"campaign": "spring", "wave": "2"}),
        (
            [
                {"address": "+15558675312", "channel": "PHONE", "variables": {"name": "Ada"}},
                {"address": "+15558675310", "channel": "PHONE", "variables": {"name": "Bo"}},
            ],
            {"campaign": "autumn", "name": "{{ name }}"},  # rendered per recipient
        ),
    ]
    operations = []
    for moment, (to, tags) in zip(times, sends, strict=False):
        clock.pinned = moment
        try:
            operations.append(await send(client, to, tags=tags))
        finally:
            clock.pinned = None
        await run_worker(settings)  # one operation at a time: each job drains its own
    a, b, c = operations
    assert (await sandbox.post("/sandbox/drain")).status_code == 200
    d = await insert_operation(
        pool,
        tenant.account_sid,
        [
            StoredMessage("WHATSAPP", "+15558675310"),
            StoredMessage("WHATSAPP", "+15558675313", status="READ"),
            StoredMessage("CONVERSATIONS", "+15558675310", status="SENT"),
        ],
        now=times[3],
        tags={"campaign": "spring", "wave": "2"},
    )
    messages = await all_pages(client, "/v1/Messages", "messages", {"pageSize": 1000})
    return Dataset(messages, a, b, c, d, times)


@pytest.fixture
async def dataset(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    tenant: Tenant,
    clock: PinnableClock,
    settings: Settings,
    sandbox: httpx.AsyncClient,
) -> Dataset:
    return await build_dataset(client, pool, tenant, clock, settings, sandbox)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def matches(message: dict[str, Any], filters: dict[str, str]) -> bool:
    """What each filter means, stated over the unfiltered list's items."""
    recipient = message["to"][0]
    checks: dict[str, Callable[[str], bool]] = {
        "operationId": lambda v: message["operationId"] == v,
        "status": lambda v: message["status"] == v.upper(),
        "channel": lambda v: recipient["channel"] == v.upper(),
        "address": lambda v: recipient["address"] == v,
        "tags": lambda v: all(
            message["tags"].get(k) == val
            for k, val in (pair.split(":") for pair in v.split(";") if pair)
        ),
        "startDate": lambda v: parse_time(message["createdAt"]) >= parse_time(v),
        "endDate": lambda v: parse_time(message["createdAt"]) < parse_time(v),
    }
    return all(checks[name](value) for name, value in filters.items())


@pytest.mark.own_stack
async def test_the_dataset_has_what_the_filters_need(dataset: Dataset) -> None:
    messages = dataset.messages
    assert len(messages) == 10
    assert [m["operationId"] for m in messages] == [dataset.d] * 3 + [dataset.c] * 2 + [
        dataset.b
    ] * 2 + [dataset.a] * 3
    keys = [(m["createdAt"], m["id"]) for m in messages]
    assert keys == sorted(keys, reverse=True), "newest first, ties by id"
    statuses = {m["status"] for m in messages}
    assert statuses == {"DELIVERED", "FAILED", "UNDELIVERED", "READ", "SENT"}
    rendered = {m["to"][0]["address"]: m["tags"] for m in messages if m["operationId"] == dataset.c}
    assert rendered == {
        "+15558675312": {"campaign": "autumn", "name": "Ada"},
        "+15558675310": {"campaign": "autumn", "name": "Bo"},
    }


def assignments(dataset: Dataset) -> list[dict[str, str]]:
    t = dataset.times
    return [
        # Everything matches exactly one message; every subset of it is checked.
        {
            "operationId": dataset.b,
            "status": "UNDELIVERED",
            "channel": "PHONE",
            "address": "+15005550010",
            "tags": "campaign:spring;wave:2;",
            "startDate": rfc3339(t[1]),  # inclusive: operation b was created exactly then
            "endDate": rfc3339(t[2]),  # exclusive: operation c was created exactly then
        },
        {
            "operationId": dataset.d,
            "status": "delivered",  # enums match in any case
            "channel": "whatsapp",
            "address": "whatsapp:+15558675310",
            "tags": "wave:2;",
            "startDate": rfc3339(t[0] + timedelta(seconds=1)),
            "endDate": rfc3339(t[3] + timedelta(minutes=1)),
        },
        {
            "operationId": dataset.c,
            "status": "DELIVERED",
            "channel": "PHONE",
            "address": "+15558675312",
            "tags": "name:Ada;campaign:autumn;",  # a tag rendered from Liquid per recipient
            "startDate": rfc3339(t[2] - timedelta(minutes=1)),
            "endDate": rfc3339(t[3]),
        },
    ]


@pytest.mark.own_stack
async def test_every_combination_of_filters(client: httpx.AsyncClient, dataset: Dataset) -> None:
    checked = 0
    for assignment in assignments(dataset):
        names = list(assignment)
        for size in range(len(names) + 1):
            for subset in itertools.combinations(names, size):
                filters = {name: assignment[name] for name in subset}
                response = await client.get("/v1/Messages", params={**filters, "pageSize": 1000})
                assert response.status_code == 200, (filters, response.text)
                got = [m["id"] for m in response.json()["messages"]]
                model_filters = {
                    k: v.removeprefix("whatsapp:") if k == "address" else v
                    for k, v in filters.items()
                }
                expected = [m["id"] for m in dataset.messages if matches(m, model_filters)]
                assert got == expected, filters
                checked += 1
    assert checked == 3 * 2**7


@pytest.mark.own_stack
async def test_each_filter_selects_what_it_says(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    async def ids_for(**params: str) -> list[str]:
        response = await client.get("/v1/Messages", params=params)
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["messages"]]

    by_address = {m["to"][0]["address"]: m for m in dataset.messages}
    assert await ids_for(status="FAILED") == [by_address["+15005550001"]["id"]]
    assert len(await ids_for(channel="WHATSAPP")) == 2
    assert len(await ids_for(channel="CONVERSATIONS")) == 1
    assert len(await ids_for(address="+15558675310")) == 5
    assert len(await ids_for(tags="campaign:spring;")) == 8
    assert len(await ids_for(tags="campaign:spring;wave:1;")) == 3
    assert await ids_for(tags="campaign:spring;wave:3;") == []
    assert len(await ids_for(operationId=dataset.c)) == 2
    assert len(await ids_for(startDate=rfc3339(dataset.times[2]))) == 5


@pytest.mark.own_stack
async def test_pages_walk_every_match_once_in_order(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    for filters in ({}, {"tags": "campaign:spring;"}, {"address": "+15558675310"}):
        expected = [m["id"] for m in dataset.messages if matches(m, filters)]
        for size in (1, 2, 3):
            params = {**filters, "pageSize": size}
            walked = await all_pages(client, "/v1/Messages", "messages", params)
            assert [m["id"] for m in walked] == expected, (filters, size)


async def page_at(client: httpx.AsyncClient, params: dict[str, Any], token: str) -> Any:
    response = await client.get("/v1/Messages", params={**params, "pageToken": token})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("params", [{"pageSize": 5}, {"pageSize": 5, "tags": "batch:x;"}])
async def test_pages_are_stable_while_messages_arrive(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    first = await send(client, [f"+1555867{n:04d}" for n in range(12)], tags={"batch": "x"})
    before = await all_pages(client, "/v1/Messages", "messages", {"pageSize": 1000})

    async def newcomers() -> None:
        await send(client, [f"+1555868{n:04d}" for n in range(4)], tags={"batch": "x"})
        await send(client, [f"+1555869{n:04d}" for n in range(2)], tags={"batch": "y"})

    page1 = (await client.get("/v1/Messages", params=params)).json()
    await newcomers()
    page2 = await page_at(client, params, page1["pagination"]["next"])
    await newcomers()
    again = await page_at(client, params, page2["pagination"]["self"])
    page3 = await page_at(client, params, page2["pagination"]["next"])
    walked = [m["id"] for m in page1["messages"] + page2["messages"] + page3["messages"]]
    assert walked == [m["id"] for m in before], "new messages never shift later pages"
    assert again["messages"] == page2["messages"], "a self token re-reads its page"
    assert page3["pagination"]["next"] is None
    newest = (await client.get("/v1/Messages", params=params)).json()["messages"]
    assert newest[0]["operationId"] != first, "a fresh first page shows the newcomers"


async def test_operation_filter_and_the_send_answer_link(client: httpx.AsyncClient) -> None:
    mine = await send(client, ["+15558675310", "+15558675311"])
    await send(client, ["+15558675312"])
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675313", "channel": "PHONE"}],
            "content": {"text": "x"},
            "from": {"address": "+15017122661", "channel": "SMS"},
        },
    )
    listed = await client.get(response.headers["resource-location"])
    assert [m["to"][0]["address"] for m in listed.json()["messages"]] == ["+15558675313"]
    page = (await client.get("/v1/Messages", params={"operationId": mine})).json()
    assert [m["to"][0]["address"] for m in page["messages"]] == ["+15558675311", "+15558675310"]


@pytest.mark.parametrize(
    "token",
    [
        "not a token",
        "%%%",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"v": 2}').decode(),
        base64.urlsafe_b64encode(b'{"v": 3, "q": "x"}').decode(),
        base64.urlsafe_b64encode(b'{"v": 2, "q": "x", "at": 1, "id": "zz"}').decode(),
        base64.urlsafe_b64encode(b'{"v": 2, "q": "x", "at": 99999999999999999999}').decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        encode_token(None),  # a token of another kind of list (ids only)
        "é",
    ],
)
async def test_a_malformed_token_is_a_400(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/v1/Messages", params={"pageToken": token})
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["code"] == 90002
    assert error["context"] == "$.pageToken"


async def test_a_token_is_bound_to_its_filters(client: httpx.AsyncClient) -> None:
    await send(client, ["+15558675310", "+15558675311", "+15558675312"], tags={"k": "v"})
    page = (await client.get("/v1/Messages", params={"pageSize": 1, "tags": "k:v;"})).json()
    token = page["pagination"]["next"]
    ok = await client.get(
        "/v1/Messages", params={"pageSize": 2, "tags": "k:v;", "pageToken": token}
    )
    assert ok.status_code == 200, "the page size may change between pages"
    assert len(ok.json()["messages"]) == 2
    for other in ({}, {"tags": "k:w;"}, {"status": "QUEUED", "tags": "k:v;"}):
        response = await client.get("/v1/Messages", params={**other, "pageToken": token})
        assert response.status_code == 400, other
        assert response.json()["errors"][0]["context"] == "$.pageToken"
    operations = await client.get("/v1/Messages/Operations", params={"pageToken": token})
    assert operations.status_code == 400


async def test_every_bad_filter_is_reported_at_once(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/Messages",
        params={
            "operationId": "comms_message_01m8h0jzqsechs3yv6kh2qxj5m",
            "status": "LOST",
            "channel": "FAX",
            "tags": "campaign=spring",
            "startDate": "yesterday",
            "endDate": "2026-01-01T00:00:00",
        },
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {e["context"] for e in errors} == {
        "$.operationId",
        "$.status",
        "$.channel",
        "$.tags",
        "$.startDate",
        "$.endDate",
    }
    assert all(e["code"] == 90001 for e in errors)
    assert all(e["infoUrl"].endswith("/docs/errors#90001") for e in errors)


@pytest.mark.parametrize(
    ("params", "context"),
    [
        ({"startDate": "2026-11-02T00:00:00Z", "endDate": "2026-11-01T00:00:00Z"}, "$.endDate"),
        ({"startDate": "2026-11-01T00:00:00Z", "endDate": "2026-11-01T00:00:00Z"}, "$.endDate"),
        ({"startDate": "2026-11-01"}, "$.startDate"),
        ({"tags": "a:b"}, "$.tags"),
        ({"tags": "a:b;a:c;"}, "$.tags"),
        ({"tags": "".join(f"k{n}:v;" for n in range(11))}, "$.tags"),
        ({"tags": "a b:c;"}, "$.tags"),
        ({"address": ""}, "$.address"),
        ({"pageSize": "0"}, "$.pageSize"),
        ({"pageSize": "1001"}, "$.pageSize"),
        ({"pageSize": "many"}, "$.pageSize"),
    ],
)
async def test_bad_values_name_their_parameter(
    client: httpx.AsyncClient, params: dict[str, str], context: str
) -> None:
    response = await client.get("/v1/Messages", params=params)
    assert response.status_code == 400, response.text
    assert [e["context"] for e in response.json()["errors"]] == [context]


async def test_dates_accept_offsets_and_whole_seconds(client: httpx.AsyncClient) -> None:
    await send(client, ["+15558675310"])
    now = datetime.now(UTC)
    for start in (
        (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (now - timedelta(hours=1)).astimezone().isoformat(),  # `+hh:mm`, encoded by httpx
        (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00").replace("+", " "),
    ):
        response = await client.get("/v1/Messages", params={"startDate": start})
        assert response.status_code == 200, (start, response.text)
        assert len(response.json()["messages"]) == 1


async def test_another_accounts_messages_never_show(
    client: httpx.AsyncClient, api_url: str, pool: asyncpg.Pool
) -> None:
    operation = await send(client, ["+15558675310"], tags={"k": "v"})
    other = await other_tenant(pool)
    async with httpx.AsyncClient(base_url=api_url, auth=other.auth) as stranger:
        filters: list[dict[str, str]] = [
            {},
            {"operationId": operation},
            {"tags": "k:v;"},
            {"address": "+15558675310"},
        ]
        for params in filters:
            response = await stranger.get("/v1/Messages", params=params)
            assert response.status_code == 200
            assert response.json()["messages"] == [], params
        token = (await client.get("/v1/Messages", params={"pageSize": 1})).json()["pagination"]
        response = await stranger.get("/v1/Messages", params={"pageToken": token["self"]})
        assert response.json()["messages"] == [], "a token carries no tenant"


async def test_preview_serves_the_same_list(client: httpx.AsyncClient) -> None:
    operation = await send(client, ["+15558675310"])
    v1 = (await client.get("/v1/Messages", params={"operationId": operation})).json()
    preview = (await client.get("/preview/Messages", params={"operationId": operation})).json()
    assert preview == v1
