"""Status callbacks: signature checked, applied forward only, repeats and reordering harmless."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from service.settings import Settings
from tests.support.provider import NO_RECEIPT, form_for, post_callback
from tests.support.workers import run_worker


async def send_one(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> tuple[str, dict[str, Any]]:
    sent = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": NO_RECEIPT, "channel": "PHONE"}],
            "content": {"text": "hi"},
            "from": {"address": "+15017122661", "channel": "SMS"},
        },
    )
    assert sent.status_code == 202
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")
    page = await client.get("/v1/Messages", params={"operationId": sent.json()["operationId"]})
    message_id = page.json()["messages"][0]["id"]
    message = (await client.get(f"/v1/Messages/{message_id}")).json()
    assert message["status"] == "SENT"
    return message_id, message["attempts"][0]


async def status_of(client: httpx.AsyncClient, message_id: str) -> tuple[str, str]:
    message = (await client.get(f"/v1/Messages/{message_id}")).json()
    return message["status"], message["attempts"][0]["status"]


@pytest.mark.own_stack
async def test_valid_signature_moves_the_message_forward(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, api_url: str
) -> None:
    message_id, attempt = await send_one(client, sandbox, settings)
    response = await post_callback(settings, form_for(attempt, "delivered"))
    assert response.status_code == 204
    assert await status_of(client, message_id) == ("DELIVERED", "DELIVERED")
    read = await post_callback(settings, form_for(attempt, "read"))
    assert read.status_code == 204
    assert await status_of(client, message_id) == ("READ", "READ")


@pytest.mark.own_stack
async def test_tampered_or_missing_signature_is_403(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    message_id, attempt = await send_one(client, sandbox, settings)
    form = form_for(attempt, "delivered")
    url = settings.public_base_url + "/callbacks/twilio/messages/status"
    good = RequestValidator(settings.provider_auth_token).compute_signature(url, form)
    tampered = await post_callback(
        settings, {**form, "MessageStatus": "undelivered"}, signature=good
    )
    assert tampered.status_code == 403
    assert tampered.json()["errors"][0]["code"] == 20403
    wrong_key = RequestValidator("not-the-token").compute_signature(url, form)
    assert (await post_callback(settings, form, signature=wrong_key)).status_code == 403
    async with httpx.AsyncClient(base_url=settings.public_base_url) as http:
        unsigned = await http.post("/callbacks/twilio/messages/status", data=form)
    assert unsigned.status_code == 403
    assert await status_of(client, message_id) == ("SENT", "SENT")


@pytest.mark.own_stack
async def test_replayed_and_out_of_order_callbacks_change_nothing(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    message_id, attempt = await send_one(client, sandbox, settings)
    delivered = form_for(attempt, "delivered")
    assert (await post_callback(settings, delivered)).status_code == 204
    assert (await post_callback(settings, delivered)).status_code == 204  # replayed
    for late in ("queued", "sent", "undelivered", "failed"):
        response = await post_callback(settings, form_for(attempt, late, ErrorCode="30003"))
        assert response.status_code == 204
        assert await status_of(client, message_id) == ("DELIVERED", "DELIVERED")
    detail = (await client.get(f"/v1/Messages/{message_id}")).json()
    assert detail["attempts"][0]["error"] is None


@pytest.mark.own_stack
async def test_undelivered_carries_the_error_code(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    message_id, attempt = await send_one(client, sandbox, settings)
    response = await post_callback(settings, form_for(attempt, "undelivered", ErrorCode="30005"))
    assert response.status_code == 204
    detail = (await client.get(f"/v1/Messages/{message_id}")).json()
    assert detail["status"] == "UNDELIVERED"
    assert detail["attempts"][0]["error"]["code"] == 30005


async def test_unknown_sids_and_statuses_are_accepted_and_ignored(
    settings: Settings, api_url: str
) -> None:
    response = await post_callback(
        settings, {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
    )
    assert response.status_code == 204
    odd = await post_callback(
        settings, {"MessageSid": "SM" + "0" * 32, "MessageStatus": "??"}, query="?attemptId=zzz"
    )
    assert odd.status_code == 204
