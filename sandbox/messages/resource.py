"""Twilio's 2010-04-01 Message resource and list page, key for key."""

from __future__ import annotations

import msgspec

from sandbox.clock import format_rfc2822
from sandbox.messages.store import MessageRecord

API_VERSION = "2010-04-01"


class MessageResource(msgspec.Struct):
    account_sid: str
    api_version: str
    body: str | None
    date_created: str | None
    date_sent: str | None
    date_updated: str | None
    direction: str
    error_code: int | None
    error_message: str | None
    from_: str | None = msgspec.field(name="from")
    messaging_service_sid: str | None = None
    num_media: str = "0"
    num_segments: str = "1"
    price: str | None = None
    price_unit: str | None = None
    sid: str = ""
    status: str = "queued"
    subresource_uris: dict[str, str] | None = None
    to: str = ""
    uri: str = ""


class MessagePage(msgspec.Struct):
    first_page_uri: str
    end: int
    previous_page_uri: str | None
    messages: list[MessageResource]
    uri: str
    page_size: int
    start: int
    next_page_uri: str | None
    page: int


class MediaResource(msgspec.Struct):
    account_sid: str
    content_type: str
    date_created: str
    date_updated: str
    parent_sid: str
    sid: str
    uri: str


class MediaPage(msgspec.Struct):
    first_page_uri: str
    end: int
    previous_page_uri: str | None
    media_list: list[MediaResource]
    uri: str
    page_size: int
    start: int
    next_page_uri: str | None
    page: int


def messages_path(account_sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{account_sid}/Messages"


def render_message(record: MessageRecord) -> MessageResource:
    base = f"{messages_path(record.account_sid)}/{record.sid}"
    # Twilio reports 0 segments for a Messaging Service message until a sender is picked.
    segments = 0 if record.status == "accepted" else record.num_segments
    return MessageResource(
        account_sid=record.account_sid,
        api_version=API_VERSION,
        body=record.body,
        date_created=format_rfc2822(record.date_created),
        date_sent=format_rfc2822(record.date_sent) if record.date_sent is not None else None,
        date_updated=format_rfc2822(record.date_updated),
        direction=record.direction,
        error_code=record.error_code,
        error_message=record.error_message,
        from_=record.from_,
        messaging_service_sid=record.messaging_service_sid,
        num_media=str(len(record.media_urls)),
        num_segments=str(segments),
        price=record.price,
        price_unit=record.price_unit,
        sid=record.sid,
        status=record.status,
        subresource_uris={"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
        to=record.to,
        uri=f"{base}.json",
    )
