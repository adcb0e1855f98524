"""Helpers of the list tests: sending through the API, and messages the API cannot make yet.

`insert_operation` writes through the real store functions (the same COPY as an accepted send),
for channels this deployment does not send on and for exact creation times in bulk.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from service import ids
from service.accounts import logic as accounts
from service.messages import store
from tests.conftest import Tenant

SMS_FROM = {"address": "+15017122661", "channel": "SMS"}


async def send(
    client: httpx.AsyncClient,
    to: Sequence[str | dict[str, Any]],
    *,
    tags: dict[str, str] | None = None,
    **extra: Any,
) -> str:
    """POST /v1/Messages; the operation id."""
    recipients = [{"address": r, "channel": "PHONE"} if isinstance(r, str) else r for r in to]
    body: dict[str, Any] = {"to": recipients, "content": {"text": "hi"}, "from": SMS_FROM}
    if tags is not None:
        body["tags"] = tags
    body.update(extra)
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


@dataclass
class StoredMessage:
    channel: str
    address: str
    status: str = "DELIVERED"
    error_code: int | None = None
    error_message: str | None = None


async def insert_operation(
    pool: asyncpg.Pool,
    account_sid: str,
    messages: Sequence[StoredMessage],
    *,
    now: datetime,
    tags: dict[str, str] | None = None,
    status: str = "COMPLETED",
) -> str:
    """An operation and its messages as the store writes them; none is due (no worker sends)."""
    operation_id = ids.uuid7()
    operation_tags = tags or {}
    defaults: dict[str, Any] = {
        "operation_id": operation_id,
        "account_sid": account_sid,
        "variables": None,
        "scheduled_for": None,
        "due_at": None,
        "created_at": now,
        "updated_at": now,
        "sender_key": "",
        "error_code": None,
        "error_message": None,
        "operation_tags": operation_tags,
        "routes": None,
    }
    records = []
    for position, message in enumerate(messages):
        values = {
            **defaults,
            "id": ids.uuid7(),
            "position": position,
            "channel": message.channel,
            "address": message.address,
            "status": message.status,
            "error_code": message.error_code,
            "error_message": message.error_message,
        }
        records.append(tuple(values[column] for column in store.MESSAGE_COPY_COLUMNS))
    async with pool.acquire() as conn, conn.transaction():
        await store.insert_operation(
            conn,
            operation_id=operation_id,
            account_sid=account_sid,
            status=status,
            tags=operation_tags,
            content={"text": "hi"},
            sender=SMS_FROM,
            validity_period=36_000,
            total=len(records),
            now=now,
        )
        await store.copy_messages(conn, records)
    return ids.encode(ids.OPERATION, operation_id)


async def other_tenant(pool: asyncpg.Pool) -> Tenant:
    created = await accounts.create_account(pool, f"other-{secrets.token_hex(4)}")
    assert created.auth_token is not None
    return Tenant(created.account_sid, created.auth_token)
