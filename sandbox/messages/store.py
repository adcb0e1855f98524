"""In-memory messages: every message by sid, per account in creation order, and the send log."""

from __future__ import annotations

import msgspec

from sandbox.addresses import Channel


class MessageRecord(msgspec.Struct, kw_only=True):
    """A message as the sandbox holds it; rendered into Twilio's resource on the way out."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    media_urls: tuple[str, ...]
    content_sid: str | None
    content_variables: str | None
    status_callback: str | None
    validity_period_s: int
    channel: Channel
    direction: str
    status: str
    num_segments: int
    error_code: int | None = None
    error_message: str | None = None
    price: str | None = None
    price_unit: str | None = "USD"
    date_created: float
    date_updated: float
    date_sent: float | None = None
    # When it left the sender's queue (epoch seconds), for rate measurements.
    sent_at: float | None = None
    conversation_sid: str | None = None


class SendEntry(msgspec.Struct):
    """One accepted send, in acceptance order: the exactly-once ledger."""

    index: int
    received_at: float
    message: MessageRecord


class MessageStore:
    def __init__(self) -> None:
        self.by_sid: dict[str, MessageRecord] = {}
        self.by_account: dict[str, list[MessageRecord]] = {}
        self.sends: list[SendEntry] = []

    def add(self, record: MessageRecord, *, outbound_send: bool) -> None:
        self.by_sid[record.sid] = record
        self.by_account.setdefault(record.account_sid, []).append(record)
        if outbound_send:
            self.sends.append(
                SendEntry(index=len(self.sends), received_at=record.date_created, message=record)
            )

    def get(self, account_sid: str, sid: str) -> MessageRecord | None:
        record = self.by_sid.get(sid)
        if record is None or record.account_sid != account_sid:
            return None
        return record

    def newest_first(self, account_sid: str) -> list[MessageRecord]:
        return list(reversed(self.by_account.get(account_sid, [])))

    def clear(self) -> None:
        self.by_sid.clear()
        self.by_account.clear()
        self.sends.clear()
