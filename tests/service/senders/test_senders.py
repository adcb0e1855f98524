"""The Senders resource: register, read, list, remove; rates by kind."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("address", "kind", "mps"),
    [
        ("+15017122661", "LONG_CODE", 1.0),
        ("+18005550100", "TOLL_FREE", 3.0),
        ("12345", "SHORT_CODE", 100.0),
        ("ACME", "ALPHANUMERIC", 10.0),
    ],
)
async def test_kind_and_default_rate_are_inferred(
    client: httpx.AsyncClient, address: str, kind: str, mps: float
) -> None:
    response = await client.post("/v1/Senders", json={"address": address, "channel": "sms"})
    assert response.status_code == 201, response.text
    sender = response.json()
    assert (sender["kind"], sender["mps"], sender["channel"]) == (kind, mps, "SMS")
    assert sender["id"].startswith("comms_sender_")
    assert response.headers["location"].endswith(f"/v1/Senders/{sender['id']}")
    assert (await client.get(f"/v1/Senders/{sender['id']}")).json() == sender


async def test_whatsapp_sender_and_explicit_rate(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Senders", json={"address": "whatsapp:+15017122661", "channel": "WHATSAPP", "mps": 25}
    )
    assert response.status_code == 201
    assert response.json()["kind"] == "WHATSAPP"
    assert response.json()["address"] == "+15017122661"
    assert response.json()["mps"] == 25


async def test_invalid_sender_reports_every_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Senders", json={"address": "nope!", "channel": "SMS", "kind": "BIG", "mps": 0}
    )
    assert response.status_code == 400
    contexts = {e["context"] for e in response.json()["errors"]}
    assert contexts == {"$.address", "$.kind", "$.mps"}


async def test_duplicates_list_and_delete(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/Senders", json={"address": "+15017122662", "channel": "SMS"})
    again = await client.post("/v1/Senders", json={"address": "+15017122662", "channel": "SMS"})
    assert again.status_code == 409
    second = await client.post("/v1/Senders", json={"address": "+15017122663", "channel": "SMS"})
    page = (await client.get("/v1/Senders", params={"pageSize": 1})).json()
    assert [s["id"] for s in page["senders"]] == [second.json()["id"]]
    rest = await client.get("/v1/Senders", params={"pageToken": page["pagination"]["next"]})
    assert [s["id"] for s in rest.json()["senders"]] == [first.json()["id"]]
    assert (await client.delete(f"/v1/Senders/{first.json()['id']}")).status_code == 204
    assert (await client.get(f"/v1/Senders/{first.json()['id']}")).status_code == 404


async def test_send_from_a_sender_id(client: httpx.AsyncClient) -> None:
    sender = (
        await client.post(
            "/v1/Senders", json={"address": "+15017122664", "channel": "SMS", "mps": 500}
        )
    ).json()
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675310", "channel": "PHONE"}],
            "content": {"text": "hi"},
            "from": {"senderId": sender["id"]},
        },
    )
    assert response.status_code == 202, response.text
    page = (
        await client.get("/v1/Messages", params={"operationId": response.json()["operationId"]})
    ).json()
    assert page["messages"][0]["from"] == {
        "address": "+15017122664",
        "channel": "SMS",
        "senderId": sender["id"],
    }
    unknown = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675310", "channel": "PHONE"}],
            "content": {"text": "hi"},
            "from": {"senderId": "comms_sender_01m8h0jzqsechs3yv6kh2qxj5m"},
        },
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["context"] == "$.from.senderId"


async def test_queue_overflow_fails_new_messages_with_30001(client: httpx.AsyncClient) -> None:
    await client.post("/v1/Senders", json={"address": "+15017122665", "channel": "SMS", "mps": 1})
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": f"+1555867532{i}", "channel": "PHONE"} for i in range(8)],
            "content": {"text": "hi"},
            "validityPeriod": 5,
            "from": {"address": "+15017122665", "channel": "SMS"},
        },
    )
    assert response.status_code == 202
    operation = (await client.get(response.headers["location"])).json()
    assert (operation["stats"]["queued"], operation["stats"]["failed"]) == (5, 3)
    page = (
        await client.get("/v1/Messages", params={"operationId": response.json()["operationId"]})
    ).json()
    failed = [m for m in page["messages"] if m["status"] == "FAILED"]
    detail = (await client.get(f"/v1/Messages/{failed[0]['id']}")).json()
    assert detail["attempts"] == []
    # The messages a second operation would add to the full queue fail at once too.
    more = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675330", "channel": "PHONE"}],
            "content": {"text": "hi"},
            "validityPeriod": 5,
            "from": {"address": "+15017122665", "channel": "SMS"},
        },
    )
    assert (await client.get(more.headers["location"])).json()["stats"]["failed"] == 1
