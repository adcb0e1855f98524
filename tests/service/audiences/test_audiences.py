"""/v1/Audiences: create, fetch (size), list, delete; members of static audiences; filters
(each operator, strict validation); tenancy; sends naming profiles and audiences at accept."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from service import error_codes
from tests.support.api import all_pages
from tests.support.factories import SMS_FROM
from tests.support.profiles import insert_profile
from tests.support.tenants import Tenant, other_tenant

UNKNOWN_PROFILE = "comms_profile_01m8h0jzqsechs3yv6kh2qxj5v"
UNKNOWN_AUDIENCE = "comms_audience_01m8h0jzqsechs3yv6kh2qxj5t"


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/Audiences", json={"displayName": "a", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert response.headers["Location"].endswith(f"/v1/Audiences/{created['id']}")
    return created


async def size_of(client: httpx.AsyncClient, audience_id: str) -> int:
    response = await client.get(f"/v1/Audiences/{audience_id}")
    assert response.status_code == 200, response.text
    size: int = response.json()["size"]
    return size


async def member_ids(client: httpx.AsyncClient, audience_id: str) -> list[str]:
    members = await all_pages(
        client, f"/v1/Audiences/{audience_id}/Members", "profiles", {"pageSize": 2}
    )
    return [m["id"] for m in members]


def codes(response: httpx.Response) -> list[tuple[int, str | None]]:
    return [(e["code"], e["context"]) for e in response.json()["errors"]]


# CRUD -------------------------------------------------------------------------------------------


async def test_create_fetch_list_delete(client: httpx.AsyncClient) -> None:
    static = await create(client, displayName="VIPs")
    assert static["filter"] is None
    assert static["size"] == 0
    assert static["id"].startswith("comms_audience_")
    filtered = await create(client, filter={"attributes.plan": "pro"})
    assert filtered["filter"] == {"attributes.plan": "pro"}

    fetched = (await client.get(f"/v1/Audiences/{static['id']}")).json()
    assert fetched["displayName"] == "VIPs"
    assert fetched["size"] == 0

    listed = await all_pages(client, "/v1/Audiences", "audiences", {"pageSize": 1})
    assert [a["id"] for a in listed] == [filtered["id"], static["id"]]  # newest first
    assert all(a["size"] is None for a in listed)

    assert (await client.delete(f"/v1/Audiences/{static['id']}")).status_code == 204
    assert (await client.get(f"/v1/Audiences/{static['id']}")).status_code == 404
    assert (await client.delete(f"/v1/Audiences/{static['id']}")).status_code == 404
    assert (await client.get("/v1/Audiences/not-an-id")).status_code == 404


async def test_create_validates_display_name(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/Audiences", json={"displayName": ""})
    assert response.status_code == 400
    assert codes(response) == [(error_codes.INVALID_FIELD.code, "$.displayName")]
    response = await client.post("/v1/Audiences", json={"displayName": "x" * 257})
    assert response.status_code == 400


# Members ---------------------------------------------------------------------------------------


async def test_static_members_add_remove_page(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    profiles = [
        await insert_profile(pool, tenant.account_sid, addresses=[(f"+1555867540{n}", "PHONE")])
        for n in range(5)
    ]
    audience = await create(client)
    members = f"/v1/Audiences/{audience['id']}/Members"

    added = await client.post(members, json={"profileIds": profiles[:4] + profiles[:1]})
    assert added.status_code == 200, added.text
    assert added.json() == {"changed": 4, "size": 4}
    again = await client.post(members, json={"profileIds": profiles[3:]})
    assert again.json() == {"changed": 1, "size": 5}  # the one already there is not counted
    assert await member_ids(client, audience["id"]) == sorted(profiles)  # profile id order
    page = (await client.get(members, params={"pageSize": 1})).json()
    assert page["profiles"][0]["addresses"] == [{"address": "+15558675400", "channel": "PHONE"}]

    removed = await client.request("DELETE", members, json={"profileIds": profiles[:2]})
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"changed": 2, "size": 3}
    assert await size_of(client, audience["id"]) == 3
    assert await member_ids(client, audience["id"]) == sorted(profiles[2:])


async def test_unknown_profiles_fail_the_whole_call_naming_each(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    mine = await insert_profile(pool, tenant.account_sid, addresses=[("+15558675410", "PHONE")])
    stranger = await other_tenant(pool)
    theirs = await insert_profile(pool, stranger.account_sid)
    audience = await create(client)
    response = await client.post(
        f"/v1/Audiences/{audience['id']}/Members",
        json={"profileIds": [mine, theirs, UNKNOWN_PROFILE]},
    )
    assert response.status_code == 400
    assert codes(response) == [
        (error_codes.UNKNOWN_PROFILE.code, "$.profileIds[1]"),
        (error_codes.UNKNOWN_PROFILE.code, "$.profileIds[2]"),
    ]
    assert theirs in response.json()["errors"][0]["message"]
    assert await size_of(client, audience["id"]) == 0  # all or nothing


async def test_member_changes_are_validated(client: httpx.AsyncClient) -> None:
    audience = await create(client)
    members = f"/v1/Audiences/{audience['id']}/Members"
    response = await client.post(members, json={"profileIds": []})
    assert codes(response) == [(error_codes.INVALID_FIELD.code, "$.profileIds")]
    response = await client.post(members, json={"profileIds": ["x", UNKNOWN_PROFILE, 3]})
    assert response.status_code == 400
    response = await client.post(members, json={"profileIds": ["x", UNKNOWN_PROFILE]})
    assert codes(response) == [(error_codes.INVALID_FIELD.code, "$.profileIds[0]")]
    too_many = [UNKNOWN_PROFILE] * 10_001
    response = await client.post(members, json={"profileIds": too_many})
    assert codes(response) == [(error_codes.INVALID_FIELD.code, "$.profileIds")]


async def test_filter_audiences_take_no_members_and_list_matches(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    pro = await insert_profile(pool, tenant.account_sid, attributes={"plan": "pro"})
    await insert_profile(pool, tenant.account_sid, attributes={"plan": "free"})
    audience = await create(client, filter={"attributes.plan": "pro"})
    response = await client.post(
        f"/v1/Audiences/{audience['id']}/Members", json={"profileIds": [pro]}
    )
    assert response.status_code == 409
    assert codes(response) == [(error_codes.FILTER_AUDIENCE_MEMBERS.code, None)]
    assert await member_ids(client, audience["id"]) == [pro]


# Filters ---------------------------------------------------------------------------------------


@pytest.fixture
async def people(pool: asyncpg.Pool, tenant: Tenant) -> dict[str, str]:
    """Five profiles with various attributes, by name."""
    rows: dict[str, dict[str, Any]] = {
        "ada": {"plan": "pro", "age": 36, "vip": True, "country": "GB"},
        "bob": {"plan": "team", "age": 17, "country": "US"},
        "cyd": {"plan": "free", "age": 65.5},
        "dee": {"plan": "pro", "age": "forty"},
        "eve": {},
    }
    return {
        name: await insert_profile(pool, tenant.account_sid, attributes=attributes)
        for name, attributes in rows.items()
    }


@pytest.mark.parametrize(
    ("audience_filter", "expected"),
    [
        ({"attributes.plan": "pro"}, {"ada", "dee"}),
        ({"attributes.plan": "pro", "attributes.vip": True}, {"ada"}),
        ({"attributes.age": 36}, {"ada"}),
        ({"attributes.plan": {"in": ["pro", "team"]}}, {"ada", "bob", "dee"}),
        ({"attributes.age": {"in": [17, 65.5]}}, {"bob", "cyd"}),
        ({"attributes.age": {"gte": 18, "lt": 65}}, {"ada"}),
        ({"attributes.age": {"gt": 17}}, {"ada", "cyd"}),
        ({"attributes.age": {"lte": 17}}, {"bob"}),
        ({"attributes.vip": {"exists": True}}, {"ada"}),
        ({"attributes.age": {"exists": False}}, {"eve"}),
        ({"attributes.plan": "pro", "attributes.age": {"exists": True}}, {"ada", "dee"}),
        ({"attributes.country": {"in": ["GB"]}, "attributes.age": {"gte": 30}}, {"ada"}),
        ({"attributes.plan": "nobody"}, set()),
    ],
)
async def test_filter_operators(
    client: httpx.AsyncClient,
    people: dict[str, str],
    audience_filter: dict[str, Any],
    expected: set[str],
) -> None:
    audience = await create(client, filter=audience_filter)
    assert audience["size"] == len(expected)
    assert await size_of(client, audience["id"]) == len(expected)
    names = {profile: name for name, profile in people.items()}
    assert {names[p] for p in await member_ids(client, audience["id"])} == expected


@pytest.mark.parametrize(
    ("audience_filter", "contexts"),
    [
        ({}, ["$.filter"]),
        ({"plan": "pro"}, ["$.filter['plan']"]),
        ({"attributes.": "pro"}, ["$.filter['attributes.']"]),
        ({"attributes.plan": None}, ["$.filter['attributes.plan']"]),
        ({"attributes.plan": ["pro"]}, ["$.filter['attributes.plan']"]),
        ({"attributes.plan": {"like": "p%"}}, ["$.filter['attributes.plan']['like']"]),
        ({"attributes.plan": {}}, ["$.filter['attributes.plan']"]),
        ({"attributes.plan": {"in": []}}, ["$.filter['attributes.plan']['in']"]),
        ({"attributes.plan": {"in": "pro"}}, ["$.filter['attributes.plan']['in']"]),
        ({"attributes.plan": {"in": [{"a": 1}]}}, ["$.filter['attributes.plan']['in']"]),
        ({"attributes.plan": {"in": ["a"], "gt": 1}}, ["$.filter['attributes.plan']"]),
        ({"attributes.age": {"gte": "18"}}, ["$.filter['attributes.age']['gte']"]),
        ({"attributes.age": {"gte": True}}, ["$.filter['attributes.age']['gte']"]),
        ({"attributes.vip": {"exists": "yes"}}, ["$.filter['attributes.vip']['exists']"]),
        (
            {"attributes.a": {"gt": "x"}, "b": 1},
            ["$.filter['attributes.a']['gt']", "$.filter['b']"],
        ),
        ({f"attributes.a{n}": n for n in range(21)}, ["$.filter"]),
        ("pro", None),
    ],
)
async def test_filters_are_validated_strictly(
    client: httpx.AsyncClient, audience_filter: Any, contexts: list[str] | None
) -> None:
    response = await client.post(
        "/v1/Audiences", json={"displayName": "a", "filter": audience_filter}
    )
    assert response.status_code == 400, response.text
    if contexts is not None:
        assert codes(response) == [(error_codes.INVALID_FILTER.code, c) for c in contexts]


async def test_filter_values_are_bound_not_spliced(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    odd = "x'); DROP TABLE profiles; --"
    profile = await insert_profile(pool, tenant.account_sid, attributes={odd: odd})
    audience = await create(client, filter={f"attributes.{odd}": {"in": [odd]}})
    assert await member_ids(client, audience["id"]) == [profile]


# Tenancy ---------------------------------------------------------------------------------------


async def test_another_account_sees_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, api_url: str
) -> None:
    mine = await insert_profile(pool, tenant.account_sid, attributes={"plan": "pro"})
    static = await create(client)
    await client.post(f"/v1/Audiences/{static['id']}/Members", json={"profileIds": [mine]})
    filtered = await create(client, filter={"attributes.plan": "pro"})
    stranger = await other_tenant(pool)
    await insert_profile(pool, stranger.account_sid, attributes={"plan": "pro"})
    async with httpx.AsyncClient(base_url=api_url, auth=stranger.auth) as other:
        assert (await other.get("/v1/Audiences")).json()["audiences"] == []
        for audience in (static, filtered):
            path = f"/v1/Audiences/{audience['id']}"
            assert (await other.get(path)).status_code == 404
            assert (await other.get(f"{path}/Members")).status_code == 404
            assert (await other.delete(path)).status_code == 404
            change = {"profileIds": [mine]}
            assert (await other.post(f"{path}/Members", json=change)).status_code == 404
        # Its own filter audience counts its own profiles only.
        theirs = await other.post(
            "/v1/Audiences", json={"displayName": "a", "filter": {"attributes.plan": "pro"}}
        )
        assert theirs.json()["size"] == 1
    assert await size_of(client, filtered["id"]) == 1
    assert await member_ids(client, static["id"]) == [mine]


async def test_malformed_page_token_is_a_400(client: httpx.AsyncClient) -> None:
    audience = await create(client)
    for path in ("/v1/Audiences", f"/v1/Audiences/{audience['id']}/Members"):
        response = await client.get(path, params={"pageToken": "%%%"})
        assert response.status_code == 400
        assert codes(response) == [(error_codes.INVALID_PAGE_TOKEN.code, "$.pageToken")]


# Sends naming profiles and audiences: what the accept checks ------------------------------------


async def test_send_checks_profiles_and_audiences_are_the_accounts(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    stranger = await other_tenant(pool)
    theirs = await insert_profile(pool, stranger.account_sid)
    mine = await insert_profile(pool, tenant.account_sid)
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [
                {"profileId": mine},
                {"profileId": theirs},
                {"audienceId": UNKNOWN_AUDIENCE},
                {"profileId": "comms_profile_nope"},
                {"audienceId": UNKNOWN_AUDIENCE, "address": "+15558675310"},
            ],
            "content": {"text": "hi"},
            "from": SMS_FROM,
        },
    )
    assert response.status_code == 400, response.text
    assert codes(response) == [
        (error_codes.INVALID_FIELD.code, "$.to[3].profileId"),
        (error_codes.INVALID_FIELD.code, "$.to[4].address"),
        (error_codes.UNKNOWN_PROFILE.code, "$.to[1].profileId"),
        (error_codes.UNKNOWN_AUDIENCE.code, "$.to[2].audienceId"),
        (error_codes.UNKNOWN_AUDIENCE.code, "$.to[4].audienceId"),
    ]


async def test_a_send_to_an_audience_is_stored_unexpanded(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    profile = await insert_profile(pool, tenant.account_sid, addresses=[("+15558675420", "PHONE")])
    audience = await create(client)
    await client.post(f"/v1/Audiences/{audience['id']}/Members", json={"profileIds": [profile]})
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [{"audienceId": audience["id"]}, {"address": "+15558675421", "channel": "PHONE"}],
            "content": {"text": "hi"},
            "from": SMS_FROM,
        },
    )
    assert response.status_code == 202, response.text
    operation = (await client.get(response.json()["operationLocation"])).json()
    # Only the address recipient is a message yet; the audience waits for a worker.
    assert operation["status"] == "PROCESSING"
    assert operation["stats"]["recipients"] == operation["stats"]["total"] == 1
