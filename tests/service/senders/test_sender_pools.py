"""Sender pools: create, read, list, change, remove; one default pool per account."""

from __future__ import annotations

import asyncpg
import httpx


async def sender(client: httpx.AsyncClient, address: str, channel: str = "SMS") -> str:
    response = await client.post("/v1/Senders", json={"address": address, "channel": channel})
    assert response.status_code == 201, response.text
    sender_id: str = response.json()["id"]
    return sender_id


async def test_pool_lifecycle(client: httpx.AsyncClient) -> None:
    sms = await sender(client, "+15017122680")
    whatsapp = await sender(client, "+15017122681", "WHATSAPP")
    created = await client.post(
        "/v1/SenderPools", json={"displayName": "fallback", "senders": [whatsapp, sms]}
    )
    assert created.status_code == 201, created.text
    pool = created.json()
    assert pool["id"].startswith("comms_senderpool_")
    assert [s["id"] for s in pool["senders"]] == [whatsapp, sms]
    assert pool["isDefault"] is False
    assert created.headers["location"].endswith(f"/v1/SenderPools/{pool['id']}")
    assert (await client.get(f"/v1/SenderPools/{pool['id']}")).json() == pool

    changed = await client.patch(
        f"/v1/SenderPools/{pool['id']}", json={"senders": [sms, whatsapp], "isDefault": True}
    )
    assert changed.status_code == 200, changed.text
    assert [s["id"] for s in changed.json()["senders"]] == [sms, whatsapp]
    assert changed.json()["isDefault"] is True
    assert changed.json()["displayName"] == "fallback"

    listed = (await client.get("/v1/SenderPools")).json()
    assert [p["id"] for p in listed["senderPools"]] == [pool["id"]]
    assert (await client.delete(f"/v1/SenderPools/{pool['id']}")).status_code == 204
    assert (await client.get(f"/v1/SenderPools/{pool['id']}")).status_code == 404


async def test_only_one_default_pool(client: httpx.AsyncClient) -> None:
    sms = await sender(client, "+15017122682")
    first = (
        await client.post(
            "/v1/SenderPools", json={"displayName": "a", "senders": [sms], "isDefault": True}
        )
    ).json()
    second = (
        await client.post(
            "/v1/SenderPools", json={"displayName": "b", "senders": [sms], "isDefault": True}
        )
    ).json()
    assert (await client.get(f"/v1/SenderPools/{first['id']}")).json()["isDefault"] is False
    assert (await client.get(f"/v1/SenderPools/{second['id']}")).json()["isDefault"] is True


async def test_invalid_pools_report_every_problem(client: httpx.AsyncClient) -> None:
    sms = await sender(client, "+15017122683")
    response = await client.post(
        "/v1/SenderPools",
        json={
            "displayName": "",
            "senders": [sms, sms, "comms_sender_01m8h0jzqsechs3yv6kh2qxj5m", "nonsense"],
        },
    )
    assert response.status_code == 400
    contexts = {e["context"] for e in response.json()["errors"]}
    assert contexts == {"$.displayName", "$.senders[1]", "$.senders[2]", "$.senders[3]"}
    empty = await client.post("/v1/SenderPools", json={"displayName": "x", "senders": []})
    assert empty.json()["errors"][0]["context"] == "$.senders"


async def test_another_accounts_senders_and_pools_are_invisible(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    from service.accounts import logic as accounts

    other = await accounts.create_account(pool, "other")
    assert other.auth_token
    theirs = (
        await anonymous.post(
            "/v1/Senders",
            json={"address": "+15017122684", "channel": "SMS"},
            auth=(other.account_sid, other.auth_token),
        )
    ).json()["id"]
    response = await client.post("/v1/SenderPools", json={"displayName": "x", "senders": [theirs]})
    assert response.status_code == 400
    assert (await client.get(f"/v1/Senders/{theirs}")).status_code == 404
    sent = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675310", "channel": "PHONE"}],
            "content": {"text": "x"},
            "from": {"senderId": theirs},
        },
    )
    assert sent.status_code == 400
