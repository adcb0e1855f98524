"""The one small interface every channel implements (workers/channels/ holds the channels):
a provider call in, a verdict out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Protocol

import msgspec

from schemas.messages import AttemptStatus, SenderChannel

# How a provider call ended:
# ACCEPTED - the provider took the message (provider_sid set);
# PERMANENT - refused for good (bad number, opted out...): no retry on this channel;
# TRANSIENT - refused for now (429, 5xx, connection refused): retry later, nothing was sent;
# UNKNOWN - the answer was lost (timeout mid-request): the provider may have it; find out first.
Verdict = Literal["ACCEPTED", "PERMANENT", "TRANSIENT", "UNKNOWN"]


class SendRequest(msgspec.Struct, frozen=True, kw_only=True):
    attempt_id: uuid.UUID
    to: str
    from_: str
    body: str | None = None
    media_urls: list[str] = msgspec.field(default_factory=list)
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    validity_period: int | None = None
    # The send's request id, sent to the provider as X-Request-Id (service/request_ids.py).
    request_id: str | None = None
    # The trace the call belongs to (W3C traceparent): the send's, or the call's own span's
    # once tracing is on in the worker; channels pass it on in the StatusCallback URL.
    traceparent: str | None = None


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    verdict: Verdict
    provider_sid: str | None = None
    status: AttemptStatus = "QUEUED"
    error_code: int | None = None
    error_message: str | None = None
    retry_after_s: float | None = None


class Channel(Protocol):
    name: SenderChannel

    async def send(self, request: SendRequest) -> SendResult:
        """Hand one message to the provider; never raises for provider or network errors."""
        ...

    async def find_submitted(
        self, *, attempt_id: uuid.UUID, to: str, from_: str, since: datetime, body: str | None
    ) -> list[str]:
        """The provider sids of messages the provider has that may be this attempt's (sent
        with these details since then), the likeliest first; [] when it has none. Another
        attempt may own some of them (the same text sent twice): the caller checks."""
        ...
