"""The provider client: httpx's API over aiohttp's connection pool, with a short path for the
one call made for every message."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

import httpx
from httpx_aiohttp import HttpxAiohttpClient
from httpx_aiohttp.transport import AiohttpTransport

FORM = "application/x-www-form-urlencoded"
Form = Mapping[str, str | Sequence[str]]


def basic_authorization(account_sid: str, auth_token: str) -> dict[str, str]:
    """The Authorization header for HTTP Basic auth, built once rather than on every call."""
    credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def with_request_id(headers: Mapping[str, str], request_id: str | None) -> Mapping[str, str]:
    """The headers of a call made for a send: its request id as X-Request-Id (Twilio, like the
    sandbox, ignores a header it does not know; a provider's logs and support can use it)."""
    if request_id is None:
        return headers
    return {**headers, "X-Request-Id": request_id}


class ProviderClient(HttpxAiohttpClient):
    """httpx's API over aiohttp's faster pool (about 5x the throughput of httpx's own pool,
    measured on 2 cores), with explicit timeouts.

    `post_form` hands its request to the transport directly: a create is made for every
    message, and the client's layers around the transport (auth flow, redirect handling,
    event hooks, the cookie jar) cost more CPU per call than aiohttp's own work. Every other
    call (lookups, lists) goes through the client. Neither path uses proxies from the
    environment, so both reach the provider the same way.
    """

    def __init__(
        self,
        *,
        timeout_s: float,
        max_connections: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self.transport = transport or AiohttpTransport(limits=limits, trust_env=False)
        super().__init__(
            transport=self.transport,
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            limits=limits,
            follow_redirects=False,
            trust_env=False,
        )
        self._timeouts = self.timeout.as_dict()

    async def post_form(
        self, url: httpx.URL, form: Form, headers: Mapping[str, str]
    ) -> httpx.Response:
        """POST a form and read the whole answer; raises httpx's transport errors."""
        request = httpx.Request(
            "POST",
            url,
            headers={**headers, "Content-Type": FORM},
            content=urlencode(form, doseq=True).encode(),
            extensions={"timeout": self._timeouts},
        )
        response = await self.transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response
