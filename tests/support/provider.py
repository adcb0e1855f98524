"""What the provider does to the API, as the sandbox or Twilio would: status callbacks and
incoming messages, signed with the provider's auth token; and what the sandbox was sent."""

from __future__ import annotations

import random
import secrets
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from service.settings import Settings

STATUS_PATH = "/callbacks/twilio/messages/status"
INBOUND_PATH = "/callbacks/twilio/messages/inbound"
NO_RECEIPT = "+15005550016"  # the sandbox sends queued and sent, never a delivery receipt


def unique_number() -> str:
    """A long code no other test uses: senders' and handsets' state is shared across tenants."""
    return f"+1415{random.randrange(10**6, 10**7)}"


def sign(settings: Settings, path: str, form: dict[str, str]) -> str:
    """X-Twilio-Signature of a form posted to `path` of the API the settings point at."""
    url = settings.public_base_url + path
    signature: str = RequestValidator(settings.provider_auth_token).compute_signature(url, form)
    return signature


async def post_signed(
    settings: Settings, path: str, form: dict[str, str], signature: str | None
) -> httpx.Response:
    if signature is None:
        signature = sign(settings, path, form)
    async with httpx.AsyncClient(base_url=settings.public_base_url) as http:
        return await http.post(path, data=form, headers={"X-Twilio-Signature": signature})


def form_for(attempt: dict[str, Any], status: str, **extra: str) -> dict[str, str]:
    """A status callback's form for an attempt (as GET /v1/Messages/{id} shows it)."""
    return {
        "MessageSid": attempt["id"],
        "SmsSid": attempt["id"],
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "a" * 32,
        **extra,
    }


async def post_callback(
    settings: Settings, form: dict[str, str], *, signature: str | None = None, query: str = ""
) -> httpx.Response:
    """POST a status callback as the provider does, signed unless told otherwise."""
    return await post_signed(settings, STATUS_PATH + query, form, signature)


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


async def post_inbound(
    settings: Settings, form: dict[str, str], *, signature: str | None = None
) -> httpx.Response:
    """POST the incoming-message webhook as the provider does, signed unless told otherwise."""
    return await post_signed(settings, INBOUND_PATH, form, signature)


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


async def sandbox_sends_to(sandbox: httpx.AsyncClient, address: str) -> list[dict[str, Any]]:
    """What the sandbox was asked to send to `address` (any channel)."""
    sends: list[dict[str, Any]] = (await sandbox.get("/sandbox/messages")).json()["messages"]
    return [s for s in sends if s["to"].removeprefix("whatsapp:") == address]
