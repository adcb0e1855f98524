"""Rows the API cannot make (yet, or not exactly), written through the service's own store and
logic functions: channels this deployment does not send on, exact creation times in bulk,
webhook endpoints the API would refuse (not on loopback)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from schemas.events import EVENT_TYPES
from schemas.messages import MessageStatus
from schemas.webhooks import WebhookCreate
from service import ids
from service.messages import store as messages_store
from service.webhooks import logic as webhook_logic

SMS_FROM = {"address": "+15017122661", "channel": "SMS"}


@dataclass
class StoredMessage:
    channel: str
    address: str
    status: MessageStatus = "DELIVERED"
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
    """An operation and its messages as an accepted send writes them (the same COPY), none of
    them due (no worker sends them); its public id."""
    operation_id = ids.uuid7()
    operation_tags = tags or {}
    records = [
        messages_store.MessageRecord(
            id=ids.uuid7(),
            operation_id=operation_id,
            account_sid=account_sid,
            position=position,
            channel=message.channel,
            address=message.address,
            variables=None,
            status=message.status,
            scheduled_for=None,
            due_at=None,
            created_at=now,
            updated_at=now,
            sender_key="",
            error_code=message.error_code,
            error_message=message.error_message,
            operation_tags=operation_tags,
            routes=None,
        )
        for position, message in enumerate(messages)
    ]
    async with pool.acquire() as conn, conn.transaction():
        await messages_store.insert_operation(
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
        await messages_store.copy_messages(conn, records)
    return ids.encode(ids.OPERATION, operation_id)


async def endpoint_for_every_event(pool: asyncpg.Pool, account_sid: str) -> None:
    """A webhook endpoint of the account subscribed to every event type."""
    await webhook_logic.create_endpoint(
        pool,
        account_sid=account_sid,
        request=WebhookCreate(url="https://hooks.example.com/x", event_types=list(EVENT_TYPES)),
        allow_loopback=False,
        now=datetime.now(UTC),
    )
