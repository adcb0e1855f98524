"""The sending aggregate's records: a route, a claimed message, an attempt, an outcome."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from schemas.messages import AttemptStatus, MessageStatus, RecipientChannel, SenderChannel
from service.senders import kinds


class Route(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One (sender, recipient address) pair on a common channel. A message keeps the routes
    that can reach its recipient in the order to try them (messages.routes, jsonb)."""

    channel: SenderChannel
    from_: str = msgspec.field(name="from")
    to: str
    recipient_channel: RecipientChannel = msgspec.field(name="recipientChannel")
    sender_id: str | None = msgspec.field(default=None, name="senderId")

    @property
    def sender_key(self) -> str:
        """The sender's queue this route's messages wait in (messages.sender_key)."""
        return kinds.sender_key(self.channel, self.from_)


class ClaimedMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A due message a worker holds under a claim's token (migrations/0011)."""

    id: uuid.UUID
    operation_id: uuid.UUID
    account_sid: str
    channel: str
    address: str
    variables: dict[str, str] | None
    scheduled_for: datetime | None
    created_at: datetime
    routes: list[Route] | None = None
    route_index: int = 0


class OperationPlan(msgspec.Struct, frozen=True, kw_only=True):
    """What an operation's messages share: content, sender, tags, validity."""

    id: uuid.UUID
    content: dict[str, Any]
    sender: dict[str, Any]
    tags: dict[str, str]
    validity_period: int
    # The X-Request-Id and W3C traceparent of the request that created it (NULL: none known).
    request_id: str | None = None
    traceparent: str | None = None
    # The account was disabled after the accept: its messages are refused (30002), not sent.
    account_disabled: bool = False


class EarlierAttempt(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    message_id: uuid.UUID
    channel: SenderChannel
    status: AttemptStatus
    provider_sid: str | None
    from_address: str
    to_address: str
    attempted_at: datetime
    route_index: int


class NewAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """An attempt recorded SUBMITTING before its provider call (the fields in the order of
    the record_submitting query's arrays)."""

    id: uuid.UUID
    message_id: uuid.UUID
    operation_id: uuid.UUID
    account_sid: str
    channel: SenderChannel
    from_address: str
    to_address: str
    segments: int | None
    encoding: str | None
    route_index: int = 0


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What became of one message in a batch, with or without a provider attempt. Built by
    the named constructors below (service/sending/rules.py decides which)."""

    message_id: uuid.UUID
    attempt_id: uuid.UUID | None = None
    provider_sid: str | None = None
    # The attempt's status; for an outcome without an attempt, the message's.
    status: AttemptStatus | MessageStatus
    error_code: int | None = None
    error_message: str | None = None
    # When the message is due again; None: it is due no more (handed over, or ended).
    next_due: datetime | None = None
    # The message ends FAILED with this error.
    ends_message: bool = False
    # The message moves on from route route_index to its next (channel fallback), due at
    # next_due.
    advance: bool = False
    route_index: int = 0
    # When the attempt's request went to the provider (attempts.attempted_at).
    sent_at: datetime | None = None

    @classmethod
    def handed_over(
        cls,
        message_id: uuid.UUID,
        attempt_id: uuid.UUID,
        provider_sid: str,
        status: AttemptStatus = "QUEUED",
        *,
        sent_at: datetime | None = None,
    ) -> Outcome:
        """The provider has the message: it is due no more, and receipts take it on."""
        return cls(
            message_id=message_id,
            attempt_id=attempt_id,
            provider_sid=provider_sid,
            status=status,
            sent_at=sent_at,
        )

    @classmethod
    def failed(
        cls,
        message_id: uuid.UUID,
        code: int | None,
        text: str | None,
        *,
        fall_back: tuple[int, datetime] | None = None,
        attempt_id: uuid.UUID | None = None,
        provider_sid: str | None = None,
        sent_at: datetime | None = None,
    ) -> Outcome:
        """Refused for good: the message ends FAILED with this error; or, with fall_back
        (route index, when), it goes on from that route to its next one, due then."""
        return cls(
            message_id=message_id,
            attempt_id=attempt_id,
            provider_sid=provider_sid,
            status="FAILED",
            error_code=code,
            error_message=text,
            next_due=fall_back[1] if fall_back else None,
            ends_message=fall_back is None,
            advance=fall_back is not None,
            route_index=fall_back[0] if fall_back else 0,
            sent_at=sent_at,
        )

    @classmethod
    def retried(
        cls,
        message_id: uuid.UUID,
        attempt_id: uuid.UUID,
        code: int | None,
        text: str | None,
        next_due: datetime,
        *,
        sent_at: datetime | None = None,
    ) -> Outcome:
        """Refused for now: the attempt failed, the message is due again at next_due."""
        return cls(
            message_id=message_id,
            attempt_id=attempt_id,
            status="FAILED",
            error_code=code,
            error_message=text,
            next_due=next_due,
            sent_at=sent_at,
        )

    @classmethod
    def unanswered(
        cls,
        message_id: uuid.UUID,
        attempt_id: uuid.UUID,
        look_up_at: datetime,
        *,
        sent_at: datetime | None = None,
    ) -> Outcome:
        """No answer: the attempt stays SUBMITTING and is looked up at the provider before
        the message is sent again, at look_up_at."""
        return cls(
            message_id=message_id,
            attempt_id=attempt_id,
            status="SUBMITTING",
            next_due=look_up_at,
            sent_at=sent_at,
        )
