"""One operation sent end to end: API → Postgres → burst worker → sandbox → callbacks → API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.settings import Settings
from tests.support.workers import run_worker

SMS_FROM = {"address": "+15017122661", "channel": "SMS"}
STATUS_KEYS = (
    "scheduled",
    "queued",
    "sent",
    "delivered",
    "read",
    "undelivered",
    "failed",
    "canceled",
)


async def poll_operation(client: httpx.AsyncClient, location: str) -> dict[str, Any]:
    response = await client.get(location)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    stats = body["stats"]
    assert sum(stats[k] for k in STATUS_KEYS) == stats["total"], stats
    return body


@pytest.mark.own_stack
async def test_three_recipients_two_delivered_one_failed(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [
                {"address": "+15558675310", "channel": "PHONE", "variables": {"name": "Ada"}},
                {"address": "+15558675311", "channel": "PHONE", "variables": {"name": "Bo"}},
                {"address": "+15005550001", "channel": "PHONE"},
            ],
            "content": {"text": "Hello {{ name | default: 'there' }}"},
            "from": SMS_FROM,
            "tags": {"campaign": "welcome"},
        },
    )
    assert response.status_code == 202, response.text
    body = response.json()
    operation_id = body["operationId"]
    location = body["operationLocation"]
    assert operation_id.startswith("comms_operation_")
    assert location == f"{settings.public_base_url}/v1/Messages/Operations/{operation_id}"
    assert response.headers["location"] == location
    assert response.headers["operation-location"] == location
    assert response.headers["operation-id"] == operation_id
    assert response.headers["resource-location"] == (
        f"{settings.public_base_url}/v1/Messages?operationId={operation_id}"
    )

    before = await poll_operation(client, location)
    assert before["status"] == "PROCESSING"
    assert before["stats"]["queued"] == 3
    assert before["tags"] == {"campaign": "welcome"}

    await run_worker(settings)
    after_send = await poll_operation(client, location)
    assert after_send["status"] == "COMPLETED"

    drained = await sandbox.post("/sandbox/drain")
    assert drained.status_code in (200, 204)
    done = await poll_operation(client, location)
    assert done["status"] == "COMPLETED"
    stats = done["stats"]
    assert (stats["delivered"], stats["failed"], stats["total"]) == (2, 1, 3)
    assert stats["attempts"] == 3

    page = await client.get("/v1/Messages", params={"operationId": operation_id})
    assert page.status_code == 200
    messages = page.json()["messages"]
    assert len(messages) == 3
    assert page.json()["pagination"]["next"] is None
    by_address = {m["to"][0]["address"]: m for m in messages}
    failed = by_address["+15005550001"]
    assert failed["status"] == "FAILED"
    assert failed["related"][0] == {
        "name": "OPERATION",
        "id": operation_id,
        "uri": location,
    }
    detail = (await client.get(f"/v1/Messages/{failed['id']}")).json()
    [attempt] = detail["attempts"]
    assert attempt["status"] == "FAILED"
    assert attempt["error"]["code"] == 21211
    delivered = (await client.get(f"/v1/Messages/{by_address['+15558675310']['id']}")).json()
    assert delivered["status"] == "DELIVERED"
    assert delivered["content"] == {"text": "Hello Ada"}
    assert delivered["attempts"][0]["id"].startswith("SM")
    assert delivered["attempts"][0]["segments"] == 1
    assert delivered["from"] == {"address": "+15017122661", "channel": "SMS"}

    accepted = (await sandbox.get("/sandbox/messages")).json()
    bodies = sorted(m["body"] for m in _as_list(accepted))
    assert bodies == ["Hello Ada", "Hello Bo"]


def _as_list(payload: object) -> list[dict[str, Any]]:
    if isinstance(payload, dict):
        messages: list[dict[str, Any]] = payload["messages"]
        return messages
    assert isinstance(payload, list)
    return payload


async def test_preview_prefix_serves_the_same_routes(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/preview/Messages",
        json={
            "to": [{"address": "+15558675310", "channel": "PHONE"}],
            "content": {"text": "hi"},
            "from": SMS_FROM,
        },
    )
    assert response.status_code == 202
    operation_id = response.json()["operationId"]
    fetched = await client.get(f"/preview/Messages/Operations/{operation_id}")
    assert fetched.status_code == 200
    assert fetched.json()["id"] == operation_id
