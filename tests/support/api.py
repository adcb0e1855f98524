"""Calls to the API that many tests make: send, page through a list, read back what was sent,
register a sender. Each asserts the answer's status, so a test reads as its steps."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import httpx

from service import error_codes
from tests.support.factories import SMS_FROM


async def send(
    client: httpx.AsyncClient,
    to: Sequence[str | dict[str, Any]],
    **fields: Any,
) -> str:
    """POST /v1/Messages to phone numbers (or whole recipients), "hi" from the usual SMS
    number unless `fields` (tags=..., content=..., ...) say otherwise; the operation id."""
    recipients = [{"address": r, "channel": "PHONE"} if isinstance(r, str) else r for r in to]
    body: dict[str, Any] = {"to": recipients, "content": {"text": "hi"}, "from": SMS_FROM}
    body.update(fields)
    response = await client.post("/v1/Messages", json=body)
    assert response.status_code == 202, response.text
    operation_id: str = response.json()["operationId"]
    return operation_id


async def all_pages(
    client: httpx.AsyncClient,
    path: str,
    key: str,
    params: dict[str, Any] | None = None,
    *,
    json: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every item of a list, following `pagination.next` (GET, or POST when json is given)."""
    items: list[dict[str, Any]] = []
    query = dict(params or {})
    while True:
        if json is None:
            response = await client.get(path, params=query)
        else:
            response = await client.post(path, params=query, json=json)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body[key])
        token = body["pagination"]["next"]
        if token is None:
            return items
        query["pageToken"] = token


async def operation(client: httpx.AsyncClient, operation_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/Messages/Operations/{operation_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def messages_of(client: httpx.AsyncClient, operation_id: str) -> list[dict[str, Any]]:
    """An operation's messages as the list shows them (up to 1,000)."""
    response = await client.get(
        "/v1/Messages", params={"operationId": operation_id, "pageSize": 1000}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["messages"]
    return items


async def message_details(client: httpx.AsyncClient, operation_id: str) -> list[dict[str, Any]]:
    """An operation's messages as GET /v1/Messages/{id} shows each (with its attempts)."""
    details = []
    for message in await messages_of(client, operation_id):
        response = await client.get(f"/v1/Messages/{message['id']}")
        assert response.status_code == 200, response.text
        details.append(response.json())
    return details


async def register_sender(client: httpx.AsyncClient, address: str, channel: str = "SMS") -> str:
    """A sender of the tenant's own, unthrottled; its id."""
    response = await client.post(
        "/v1/Senders", json={"address": address, "channel": channel, "mps": 10_000}
    )
    assert response.status_code == 201, response.text
    sender_id: str = response.json()["id"]
    return sender_id


async def suppressed(client: httpx.AsyncClient, address: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/Suppressions", params={"address": address})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["suppressions"]
    return items


_CONTEXT = re.compile(r"^\$")


def is_info_url(code: int, url: str) -> bool:
    """An answer's infoUrl: Twilio's page for its codes, the service's error-code page (under
    its public base URL) for ours."""
    if error_codes.is_ours(code):
        return re.fullmatch(rf"https?://[^#]+/docs/errors#{code}", url) is not None
    return url == f"https://www.twilio.com/docs/api/errors/{code}"


def api_error_body(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx/5xx answer carries `{"errors": [{code, message, infoUrl, context}]}`."""
    if response.status_code < 400:
        return None
    if case is not None and case.operation.path == "/readyz":
        return None  # a readiness answer (Health, documented), not an API error
    body = response.json()
    assert isinstance(body, dict), f"error body is not an object: {body!r}"
    assert set(body) == {"errors"}, f"error body keys: {sorted(body)}"
    errors = body["errors"]
    assert isinstance(errors, list), "errors is not a list"
    assert 1 <= len(errors) <= 100, f"{len(errors)} errors"
    for error in errors:
        assert isinstance(error, dict), f"error entry: {error!r}"
        assert set(error) == {"code", "message", "infoUrl", "context"}, f"keys: {sorted(error)}"
        code = error["code"]
        assert type(code) is int, f"code: {code!r}"
        assert isinstance(error["message"], str), f"message: {error['message']!r}"
        assert error["message"], "empty message"
        assert is_info_url(code, error["infoUrl"]), error["infoUrl"]
        context = error["context"]
        assert context is None or (isinstance(context, str) and _CONTEXT.match(context)), (
            f"context: {context!r}"
        )
    if response.status_code in (429, 503):
        assert "Retry-After" in response.headers, "429/503 without Retry-After"
    return None
