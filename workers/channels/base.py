"""The one small interface every channel implements."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Protocol

import aiohttp
import httpx
import msgspec

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


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    verdict: Verdict
    provider_sid: str | None = None
    status: str = "QUEUED"
    error_code: int | None = None
    error_message: str | None = None
    retry_after_s: float | None = None


def failed_call(exc: httpx.TransportError) -> SendResult:
    """The verdict on a provider call that got no answer.

    Only a connection that was never made cannot have carried the request (TRANSIENT: send
    again); any other failure may have come after the provider took it (UNKNOWN). httpx's
    exception type alone cannot tell with the aiohttp transport, which reports every aiohttp
    connection error as ConnectTimeout, a server closing the connection mid-request included:
    there the aiohttp error it was raised from decides.
    """
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientError):
        never_connected = isinstance(
            cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError
        )
    else:
        never_connected = isinstance(
            exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
        )
    if never_connected:
        return SendResult(verdict="TRANSIENT", error_message=f"connection failed: {exc!r}")
    return SendResult(verdict="UNKNOWN", error_message=f"no answer: {exc!r}")


class Channel(Protocol):
    name: str

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
