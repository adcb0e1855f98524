"""Twilio's Conversations v1 resources and list pages, key for key."""

from __future__ import annotations

from typing import Any

import msgspec

from sandbox.clock import format_iso8601
from sandbox.conversations.store import (
    ConversationMessageRecord,
    ConversationRecord,
    ParticipantRecord,
    ReceiptRecord,
)
from sandbox.paging import PageMeta


class ConversationResource(msgspec.Struct):
    account_sid: str
    chat_service_sid: str
    messaging_service_sid: str
    sid: str
    friendly_name: str | None
    unique_name: str | None
    attributes: str
    state: str
    date_created: str
    date_updated: str
    timers: dict[str, str]
    url: str
    links: dict[str, str]
    bindings: dict[str, Any] | None


class ParticipantResource(msgspec.Struct):
    account_sid: str
    conversation_sid: str
    sid: str
    identity: str | None
    attributes: str
    messaging_binding: dict[str, str] | None
    role_sid: str
    date_created: str
    date_updated: str
    url: str
    last_read_message_index: int | None
    last_read_timestamp: str | None


class Delivery(msgspec.Struct):
    total: int
    sent: str
    delivered: str
    read: str
    failed: str
    undelivered: str


class ConversationMessageResource(msgspec.Struct):
    account_sid: str
    conversation_sid: str
    sid: str
    index: int
    author: str
    body: str | None
    media: list[dict[str, Any]] | None
    attributes: str
    participant_sid: str | None
    date_created: str
    date_updated: str
    url: str
    delivery: Delivery | None
    links: dict[str, str]
    content_sid: str | None


class ReceiptResource(msgspec.Struct):
    account_sid: str
    conversation_sid: str
    sid: str
    message_sid: str
    channel_message_sid: str
    participant_sid: str
    status: str
    error_code: int
    date_created: str
    date_updated: str
    url: str


class ConversationPage(msgspec.Struct):
    conversations: list[ConversationResource]
    meta: PageMeta


class ParticipantPage(msgspec.Struct):
    participants: list[ParticipantResource]
    meta: PageMeta


class ConversationMessagePage(msgspec.Struct):
    messages: list[ConversationMessageResource]
    meta: PageMeta


class ReceiptPage(msgspec.Struct):
    delivery_receipts: list[ReceiptResource]
    meta: PageMeta


def conversation_url(base_url: str, conversation_sid: str) -> str:
    return f"{base_url}/v1/Conversations/{conversation_sid}"


def render_conversation(base_url: str, record: ConversationRecord) -> ConversationResource:
    url = conversation_url(base_url, record.sid)
    return ConversationResource(
        account_sid=record.account_sid,
        chat_service_sid=record.chat_service_sid,
        messaging_service_sid=record.messaging_service_sid,
        sid=record.sid,
        friendly_name=record.friendly_name,
        unique_name=record.unique_name,
        attributes=record.attributes,
        state=record.state,
        date_created=format_iso8601(record.date_created),
        date_updated=format_iso8601(record.date_updated),
        timers=dict(record.timers),
        url=url,
        links={
            "participants": f"{url}/Participants",
            "messages": f"{url}/Messages",
            "webhooks": f"{url}/Webhooks",
        },
        bindings=None,
    )


def render_participant(base_url: str, record: ParticipantRecord) -> ParticipantResource:
    binding: dict[str, str] | None = None
    if record.binding is not None:
        binding = {"type": record.binding.type}
        for name in ("address", "proxy_address", "projected_address"):
            value = getattr(record.binding, name)
            if value is not None:
                binding[name] = value
    return ParticipantResource(
        account_sid=record.account_sid,
        conversation_sid=record.conversation_sid,
        sid=record.sid,
        identity=record.identity,
        attributes=record.attributes,
        messaging_binding=binding,
        role_sid=record.role_sid,
        date_created=format_iso8601(record.date_created),
        date_updated=format_iso8601(record.date_updated),
        url=f"{conversation_url(base_url, record.conversation_sid)}/Participants/{record.sid}",
        last_read_message_index=None,
        last_read_timestamp=None,
    )


def _share(count: int, total: int) -> str:
    if count == 0:
        return "none"
    return "all" if count == total else "some"


def delivery_summary(receipts: list[ReceiptRecord]) -> Delivery | None:
    """Twilio's aggregated receipt: how many recipients reached each status (or beyond; an
    undelivered message was sent)."""
    if not receipts:
        return None
    statuses = [receipt.status for receipt in receipts]
    total = len(statuses)
    return Delivery(
        total=total,
        sent=_share(
            sum(s in ("sent", "delivered", "read", "undelivered") for s in statuses), total
        ),
        delivered=_share(sum(s in ("delivered", "read") for s in statuses), total),
        read=_share(statuses.count("read"), total),
        failed=_share(statuses.count("failed"), total),
        undelivered=_share(statuses.count("undelivered"), total),
    )


def message_url(base_url: str, record: ConversationMessageRecord) -> str:
    return f"{conversation_url(base_url, record.conversation_sid)}/Messages/{record.sid}"


def render_message(base_url: str, record: ConversationMessageRecord) -> ConversationMessageResource:
    url = message_url(base_url, record)
    media = None
    if record.media_sid is not None:
        media = [
            {"sid": record.media_sid, "size": 0, "content_type": "image/jpeg", "filename": None}
        ]
    return ConversationMessageResource(
        account_sid=record.account_sid,
        conversation_sid=record.conversation_sid,
        sid=record.sid,
        index=record.index,
        author=record.author,
        body=record.body,
        media=media,
        attributes=record.attributes,
        participant_sid=record.participant_sid,
        date_created=format_iso8601(record.date_created),
        date_updated=format_iso8601(record.date_updated),
        url=url,
        delivery=delivery_summary(record.receipts),
        links={
            "delivery_receipts": f"{url}/Receipts",
            "channel_metadata": f"{url}/ChannelMetadata",
        },
        content_sid=record.content_sid,
    )


def render_receipt(
    base_url: str, message: ConversationMessageRecord, record: ReceiptRecord
) -> ReceiptResource:
    return ReceiptResource(
        account_sid=record.account_sid,
        conversation_sid=record.conversation_sid,
        sid=record.sid,
        message_sid=record.message_sid,
        channel_message_sid=record.channel_message_sid,
        participant_sid=record.participant_sid,
        status=record.status,
        error_code=record.error_code,
        date_created=format_iso8601(record.date_created),
        date_updated=format_iso8601(record.date_updated),
        url=f"{message_url(base_url, message)}/Receipts/{record.sid}",
    )
