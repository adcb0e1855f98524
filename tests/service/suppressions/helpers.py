"""Shared by the opt-out tests: numbers of their own, signed inbound webhooks, a handset's STOP."""

from __future__ import annotations

import random
import secrets
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from service.settings import Settings

INBOUND_PATH = "/callbacks/twilio/messages/inbound"


def unique_number() -> str:
    """A long code no other test uses: senders' and handsets' state is shared across tenants."""
    return f"+1415{random.randrange(10**6, 10**7)}"


async def register_sender(client: httpx.AsyncClient, address: str, channel: str = "SMS") -> str:
    response = await client.post(
        "/v1/Senders", json={"address": address, "channel": channel, "mps": 10_000}
    )
    assert response.status_code == 201, response.text
    sender_id: str = response.json()["id"]
    return sender_id


async def handset_says(
    sandbox: httpx.AsyncClient, handset: str, to: str, body: str
) -> dict[str, Any]:
    """The sandbox's handset texts our number; its signed webhook reaches the API."""
    response = await sandbox.post(
        "/sandbox/inbound", json={"from": handset, "to": to, "body": body}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    webhook = result["webhook"]
    assert webhook["delivered"], webhook
    assert webhook["status_code"] == 200, webhook
    return result


def inbound_form(handset: str, to: str, body: str, sid: str | None = None) -> dict[str, str]:
    sid = sid or "SM" + secrets.token_hex(16)
    return {
        "AccountSid": "AC" + "a" * 32,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": handset,
        "To": to,
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "SmsStatus": "received",
        "NumMedia": "0",
        "NumSegments": "1",
    }


def sign(settings: Settings, form: dict[str, str]) -> str:
    url = settings.public_base_url + INBOUND_PATH
    signature: str = RequestValidator(settings.provider_auth_token).compute_signature(url, form)
    return signature


async def post_inbound(
    settings: Settings, form: dict[str, str], *, signature: str | None = None
) -> httpx.Response:
    """POST the incoming-message webhook as the provider does, signed unless told otherwise."""
    if signature is None:
        signature = sign(settings, form)
    async with httpx.AsyncClient(base_url=settings.public_base_url) as http:
        return await http.post(INBOUND_PATH, data=form, headers={"X-Twilio-Signature": signature})


async def suppressed(client: httpx.AsyncClient, address: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/Suppressions", params={"address": address})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["suppressions"]
    return items


async def messages_of(client: httpx.AsyncClient, operation_id: str) -> list[dict[str, Any]]:
    response = await client.get(
        "/v1/Messages", params={"operationId": operation_id, "pageSize": 1000}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["messages"]
    return items


async def operation(client: httpx.AsyncClient, operation_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/Messages/Operations/{operation_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def sandbox_sends_to(sandbox: httpx.AsyncClient, address: str) -> list[dict[str, Any]]:
    sends = (await sandbox.get("/sandbox/messages")).json()["messages"]
    return [s for s in sends if s["to"].removeprefix("whatsapp:") == address]
