"""Signed, form-encoded webhooks (status callbacks, inbound messages, Conversations events)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from urllib.parse import urlencode

import aiohttp
import msgspec

from sandbox import ids
from sandbox.clock import Clock
from sandbox.signing import compute_signature

log = logging.getLogger("sandbox")

USER_AGENT = "TwilioProxy/1.1"
WEBHOOK_LOG_SIZE = 10_000


class WebhookAttempt(msgspec.Struct):
    """One try at delivering one webhook, kept for GET /sandbox/webhooks."""

    kind: str
    url: str
    params: dict[str, str]
    idempotency_token: str
    attempt: int
    at: float
    status_code: int | None
    error: str | None


class WebhookResult(msgspec.Struct):
    delivered: bool
    status_code: int | None
    body: str | None
    attempts: int


class WebhookDispatcher:
    """POSTs webhooks with the shared client, retrying unreachable receivers and 5xx answers."""

    def __init__(self, *, retry_delays_s: Sequence[float], clock: Clock) -> None:
        self.retry_delays_s = tuple(retry_delays_s)
        self.clock = clock
        self.client: aiohttp.ClientSession | None = None
        self.attempts: deque[WebhookAttempt] = deque(maxlen=WEBHOOK_LOG_SIZE)

    async def post(
        self, *, kind: str, url: str, params: Sequence[tuple[str, str]], auth_token: str
    ) -> WebhookResult:
        """Deliver once (with retries); never raises for receiver trouble."""
        if self.client is None:
            raise RuntimeError("the sandbox's HTTP client is not started (app lifespan not run)")
        token = ids.new_sid(ids.REQUEST)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": USER_AGENT,
            "X-Twilio-Signature": compute_signature(auth_token, url, params),
            "I-Twilio-Idempotency-Token": token,
        }
        content = urlencode(params).encode()
        pauses = (0.0, *self.retry_delays_s)
        status_code: int | None = None
        for attempt, pause in enumerate(pauses, start=1):
            if pause:
                await asyncio.sleep(pause)
            error: str | None = None
            body: str | None = None
            try:
                async with self.client.post(
                    url, data=content, headers=headers, allow_redirects=False
                ) as response:
                    status_code, body = response.status, await response.text()
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                status_code, error = None, f"{type(exc).__name__}: {exc}"
            self.attempts.append(
                WebhookAttempt(
                    kind=kind,
                    url=url,
                    params=dict(params),
                    idempotency_token=token,
                    attempt=attempt,
                    at=self.clock.now(),
                    status_code=status_code,
                    error=error,
                )
            )
            if status_code is not None and status_code < 500:
                return WebhookResult(
                    delivered=200 <= status_code < 300,
                    status_code=status_code,
                    body=body,
                    attempts=attempt,
                )
        log.warning("gave up on %s webhook to %s after %d attempts", kind, url, len(pauses))
        return WebhookResult(
            delivered=False, status_code=status_code, body=None, attempts=len(pauses)
        )
