"""Every provider call seen from outside the channel: its request id in the log context, a
debug line with its answer, and (tracing on) a span in the send's trace.

The channel itself (sms.py, conversations.py) sends the request id as `X-Request-Id` and the
trace context in the StatusCallback URL; aiohttp's instrumentation adds the `traceparent` header.
With tracing off and debug lines off, a call goes straight to the channel: this is the send
path's hottest line.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime

import msgspec
import structlog

from schemas.messages import SenderChannel
from service import tracing
from service.sending.channel import Channel, SendRequest, SendResult
from service.tracing import Tracing

log = structlog.get_logger(__name__)
_debug = logging.getLogger(__name__)


class ObservedChannel:
    """A channel with its calls logged (debug) and traced; it changes nothing they do."""

    def __init__(self, inner: Channel, tracing: Tracing) -> None:
        self.inner = inner
        self.name: SenderChannel = inner.name
        self._tracing = tracing

    async def send(self, request: SendRequest) -> SendResult:
        if not self._tracing.enabled and not _debug.isEnabledFor(logging.DEBUG):
            return await self.inner.send(request)
        started = time.perf_counter()
        with (
            structlog.contextvars.bound_contextvars(request_id=request.request_id),
            tracing.work_span(
                self._tracing.tracer,
                f"send {self.name}",
                request.traceparent,
                **{"comms.attempt_id": request.attempt_id.hex, "comms.channel": self.name},
            ) as span,
        ):
            # The call's own context, for the status callback to come back under.
            own = tracing.traceparent()
            if own is not None:
                request = msgspec.structs.replace(request, traceparent=own)
            result = await self.inner.send(request)
            if span.is_recording():
                span.set_attribute("comms.verdict", result.verdict)
                if result.provider_sid:
                    span.set_attribute("comms.provider_sid", result.provider_sid)
                if result.error_code is not None:
                    span.set_attribute("comms.error_code", result.error_code)
            log.debug(
                "provider call",
                channel=self.name,
                attempt_id=request.attempt_id.hex,
                to=request.to,
                verdict=result.verdict,
                provider_sid=result.provider_sid,
                error_code=result.error_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            return result

    async def find_submitted(
        self, *, attempt_id: uuid.UUID, to: str, from_: str, since: datetime, body: str | None
    ) -> list[str]:
        return await self.inner.find_submitted(
            attempt_id=attempt_id, to=to, from_=from_, since=since, body=body
        )
