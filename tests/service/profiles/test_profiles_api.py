"""The Profiles resource: create, read, list, update, upsert by external id, delete;
validation of every field; tenancy; pages."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from service.settings import Settings
from tests.support.tenants import other_tenant

ADA = {
    "externalId": "crm-1",
    "addresses": [
        {"address": "+15558675310", "channel": "sms"},
        {"address": "whatsapp:+15558675310", "channel": "WHATSAPP"},
    ],
    "attributes": {"firstName": "Ada", "age": 36, "vip": True, "score": 1.5},
    "timeZone": "Europe/Paris",
}


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/Profiles", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_fetch_and_delete(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/Profiles", json=ADA)
    assert response.status_code == 201, response.text
    profile = response.json()
    assert profile["id"].startswith("comms_profile_")
    assert response.headers["location"].endswith(f"/v1/Profiles/{profile['id']}")
    assert profile["externalId"] == "crm-1"
    assert profile["addresses"] == [
        {"address": "+15558675310", "channel": "SMS"},
        {"address": "+15558675310", "channel": "WHATSAPP"},
    ]
    assert profile["attributes"] == {"firstName": "Ada", "age": 36, "vip": True, "score": 1.5}
    assert profile["timeZone"] == "Europe/Paris"
    assert profile["createdAt"] == profile["updatedAt"]
    assert profile["createdAt"].endswith("Z")
    assert (await client.get(f"/v1/Profiles/{profile['id']}")).json() == profile

    assert (await client.delete(f"/v1/Profiles/{profile['id']}")).status_code == 204
    gone = await client.get(f"/v1/Profiles/{profile['id']}")
    assert gone.status_code == 404
    assert gone.json()["errors"][0]["code"] == 20404
    assert (await client.delete(f"/v1/Profiles/{profile['id']}")).status_code == 404


async def test_an_empty_profile_and_defaults(client: httpx.AsyncClient) -> None:
    profile = await create(client, {})
    assert profile["externalId"] is None
    assert profile["addresses"] == []
    assert profile["attributes"] == {}
    assert profile["timeZone"] is None


async def test_external_id_is_unique_in_the_account(client: httpx.AsyncClient) -> None:
    await create(client, {"externalId": "dup"})
    again = await client.post("/v1/Profiles", json={"externalId": "dup"})
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == 90412
    assert again.json()["errors"][0]["context"] == "$.externalId"
    other = await create(client, {"externalId": "other"})
    taken = await client.patch(f"/v1/Profiles/{other['id']}", json={"externalId": "dup"})
    assert taken.status_code == 409
    assert taken.json()["errors"][0]["code"] == 90412


async def test_patch_is_partial_and_merges_attributes(client: httpx.AsyncClient) -> None:
    profile = await create(client, ADA)
    response = await client.patch(
        f"/v1/Profiles/{profile['id']}",
        json={"attributes": {"age": 37, "vip": None, "plan": "pro"}, "timeZone": None},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["attributes"] == {"firstName": "Ada", "age": 37, "score": 1.5, "plan": "pro"}
    assert updated["timeZone"] is None
    assert updated["addresses"] == profile["addresses"]
    assert updated["externalId"] == "crm-1"
    assert updated["createdAt"] == profile["createdAt"]

    replaced = await client.patch(
        f"/v1/Profiles/{profile['id']}",
        json={
            "addresses": [{"address": "+15558675399", "channel": "CONVERSATIONS"}],
            "externalId": None,
        },
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["addresses"] == [{"address": "+15558675399", "channel": "CONVERSATIONS"}]
    assert replaced.json()["externalId"] is None
    assert replaced.json()["attributes"] == updated["attributes"]


async def test_patch_may_not_grow_attributes_past_the_limit(client: httpx.AsyncClient) -> None:
    profile = await create(client, {"attributes": {f"k{i}": i for i in range(50)}})
    response = await client.patch(f"/v1/Profiles/{profile['id']}", json={"attributes": {"x": 1}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["context"] == "$.attributes"
    # Replacing one and removing one keeps it at 50.
    fine = await client.patch(
        f"/v1/Profiles/{profile['id']}", json={"attributes": {"k0": None, "x": 1}}
    )
    assert fine.status_code == 200
    assert len(fine.json()["attributes"]) == 50


async def test_put_by_external_id_creates_then_updates(client: httpx.AsyncClient) -> None:
    created = await client.put(
        "/v1/Profiles/ExternalId/crm-77",
        json={
            "addresses": [{"address": "+15558675310", "channel": "SMS"}],
            "attributes": {"plan": "free", "age": 20},
        },
    )
    assert created.status_code == 201, created.text
    profile = created.json()
    assert profile["externalId"] == "crm-77"
    assert created.headers["location"].endswith(f"/v1/Profiles/{profile['id']}")

    updated = await client.put(
        "/v1/Profiles/ExternalId/crm-77",
        json={
            "externalId": "crm-77",
            "attributes": {"plan": "pro"},
            "timeZone": "America/New_York",
        },
    )
    assert updated.status_code == 200, updated.text
    again = updated.json()
    assert again["id"] == profile["id"]
    assert again["attributes"] == {"plan": "pro", "age": 20}
    assert again["addresses"] == profile["addresses"]
    assert again["timeZone"] == "America/New_York"
    listed = (await client.get("/v1/Profiles", params={"externalId": "crm-77"})).json()
    assert [p["id"] for p in listed["profiles"]] == [profile["id"]]

    mismatch = await client.put("/v1/Profiles/ExternalId/crm-77", json={"externalId": "crm-78"})
    assert mismatch.status_code == 400
    assert mismatch.json()["errors"][0]["context"] == "$.externalId"
    too_long = await client.put("/v1/Profiles/ExternalId/" + "x" * 257, json={})
    assert too_long.status_code == 400


@pytest.mark.parametrize(
    ("body", "code", "context"),
    [
        ({"externalId": ""}, 90001, "$.externalId"),
        ({"externalId": "x" * 257}, 90001, "$.externalId"),
        ({"externalId": 5}, 90001, "$.externalId"),
        ({"addresses": [{"address": "12", "channel": "SMS"}]}, 21211, "$.addresses[0].address"),
        (
            {"addresses": [{"address": "+15558675310", "channel": "FAX"}]},
            90001,
            "$.addresses[0].channel",
        ),
        ({"addresses": [{"address": "+15558675310"}]}, 90001, "$.addresses[0].channel"),
        (
            {"addresses": [{"address": "+15558675310", "channel": "SMS"}] * 2},
            90001,
            "$.addresses[1]",
        ),
        (
            {"addresses": [{"address": f"+1555867{i:04d}", "channel": "SMS"} for i in range(11)]},
            90001,
            "$.addresses",
        ),
        ({"addresses": "+15558675310"}, 90001, "$.addresses"),
        ({"attributes": {"nested": {"a": 1}}}, 90001, "$.attributes.nested"),
        ({"attributes": {"list": [1]}}, 90001, "$.attributes.list"),
        ({"attributes": {"k": "v" * 1025}}, 90001, "$.attributes.k"),
        ({"attributes": {"k" * 65: "v"}}, 90001, "$.attributes." + "k" * 65),
        ({"attributes": {"": "v"}}, 90001, "$.attributes['']"),
        ({"attributes": {f"k{i}": i for i in range(51)}}, 90001, "$.attributes"),
        ({"attributes": "flat"}, 90001, "$.attributes"),
        ({"timeZone": "Mars/Olympus"}, 90001, "$.timeZone"),
        ({"timeZone": "../../etc/passwd"}, 90001, "$.timeZone"),
        ({"timeZone": 1}, 90001, "$.timeZone"),
        ({"unknownField": 1}, None, None),
    ],
)
async def test_every_field_is_validated(
    client: httpx.AsyncClient, body: dict[str, Any], code: int | None, context: str | None
) -> None:
    response = await client.post("/v1/Profiles", json=body)
    if code is None:  # unknown fields are ignored, as elsewhere in the API
        assert response.status_code == 201, response.text
        return
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert (errors[0]["code"], errors[0]["context"]) == (code, context), errors
    # PATCH checks the same way.
    profile = await create(client, {})
    patched = await client.patch(f"/v1/Profiles/{profile['id']}", json=body)
    assert patched.status_code == 400
    assert patched.json()["errors"][0]["context"] == context


async def test_every_problem_is_reported_at_once(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Profiles",
        json={
            "externalId": "",
            "addresses": [{"address": "nope", "channel": "SMS"}],
            "attributes": {"k": "v" * 2000},
            "timeZone": "Nowhere",
        },
    )
    assert response.status_code == 400
    contexts = {e["context"] for e in response.json()["errors"]}
    assert contexts == {"$.externalId", "$.addresses[0].address", "$.attributes.k", "$.timeZone"}


async def test_a_malformed_or_unknown_id_is_a_404(client: httpx.AsyncClient) -> None:
    for path in ("/v1/Profiles/nope", "/v1/Profiles/comms_profile_01m8h0jzqsechs3yv6kh2qxj5t"):
        assert (await client.get(path)).status_code == 404
        assert (await client.patch(path, json={})).status_code == 404
        assert (await client.delete(path)).status_code == 404
    assert (await client.get("/v1/Profiles/Imports/nope")).status_code == 404


async def test_list_pages_and_filters(client: httpx.AsyncClient) -> None:
    made = [
        await create(
            client,
            {
                "externalId": f"page-{i}",
                "addresses": [{"address": f"+1555867{i:04d}", "channel": "SMS"}],
            },
        )
        for i in range(5)
    ]
    first = (await client.get("/v1/Profiles", params={"pageSize": 2})).json()
    assert [p["id"] for p in first["profiles"]] == [made[4]["id"], made[3]["id"]]
    seen = [p["id"] for p in first["profiles"]]
    token = first["pagination"]["next"]
    while token:
        page = (await client.get("/v1/Profiles", params={"pageSize": 2, "pageToken": token})).json()
        seen += [p["id"] for p in page["profiles"]]
        token = page["pagination"]["next"]
    assert seen == [p["id"] for p in reversed(made)]

    by_address = (await client.get("/v1/Profiles", params={"address": "+15558670002"})).json()
    assert [p["id"] for p in by_address["profiles"]] == [made[2]["id"]]
    by_whatsapp = await client.get("/v1/Profiles", params={"address": "whatsapp:+15558670003"})
    assert [p["id"] for p in by_whatsapp.json()["profiles"]] == [made[3]["id"]]
    by_external = (await client.get("/v1/Profiles", params={"externalId": "page-1"})).json()
    assert [p["id"] for p in by_external["profiles"]] == [made[1]["id"]]
    bad = await client.get("/v1/Profiles", params={"pageToken": "garbage"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == 90002


async def test_an_account_never_sees_or_changes_anothers_profiles(
    client: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings
) -> None:
    mine = await create(client, {"externalId": "shared-key", "attributes": {"owner": "me"}})
    stranger = await other_tenant(pool)
    async with httpx.AsyncClient(base_url=settings.public_base_url, auth=stranger.auth) as theirs:
        path = f"/v1/Profiles/{mine['id']}"
        assert (await theirs.get(path)).status_code == 404
        assert (await theirs.patch(path, json={"attributes": {"owner": "them"}})).status_code == 404
        assert (await theirs.delete(path)).status_code == 404
        assert (await theirs.get("/v1/Profiles")).json()["profiles"] == []
        listed = await theirs.get("/v1/Profiles", params={"externalId": "shared-key"})
        assert listed.json()["profiles"] == []
        # The same external id is theirs to use: a profile of their own, not ours.
        upserted = await theirs.put("/v1/Profiles/ExternalId/shared-key", json={})
        assert upserted.status_code == 201
        assert upserted.json()["id"] != mine["id"]
    assert (await client.get(f"/v1/Profiles/{mine['id']}")).json() == mine
