"""What the channels share: the verdict on a provider call that got no answer."""

from __future__ import annotations

import aiohttp
import httpx

from service.sending.channel import SendResult


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
