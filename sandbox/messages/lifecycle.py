"""A message's life after the 201: its steps as data, then a task that walks them in order,
updating the resource and POSTing one status callback per step before taking the next."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import msgspec

from sandbox import ids
from sandbox.addresses import Channel, split_channel
from sandbox.clock import Clock
from sandbox.errors import error_text
from sandbox.magic import Outcome, OutcomeKind
from sandbox.messages.resource import API_VERSION
from sandbox.messages.store import MessageRecord
from sandbox.webhooks import WebhookDispatcher

PRICE_PER_SEGMENT = 0.0079


class Step(msgspec.Struct, frozen=True):
    """Move to `status` at loop time `at` (and tell the status callback)."""

    at: float
    status: str
    error_code: int | None = None


def plan_steps(
    *, accepted_at: float, leaves_queue_at: float | None, delay_s: float, outcome: Outcome
) -> list[Step]:
    """The statuses a message goes through after creation, with their loop times.

    `leaves_queue_at` is None when the message is never sent (a failed outcome)."""
    steps = [Step(at=accepted_at, status="queued")]
    if outcome.kind is OutcomeKind.FAILED or leaves_queue_at is None:
        steps.append(Step(at=accepted_at + delay_s, status="failed", error_code=outcome.error_code))
        return steps
    sent_at = max(leaves_queue_at, accepted_at + delay_s)
    steps.append(Step(at=sent_at, status="sent"))
    if outcome.kind is OutcomeKind.NO_RECEIPT:
        return steps
    if outcome.kind is OutcomeKind.UNDELIVERED:
        steps.append(
            Step(at=sent_at + delay_s, status="undelivered", error_code=outcome.error_code)
        )
        return steps
    steps.append(Step(at=sent_at + delay_s, status="delivered"))
    if outcome.kind is OutcomeKind.READ:
        steps.append(Step(at=sent_at + 2 * delay_s, status="read"))
    return steps


def status_callback_params(record: MessageRecord) -> list[tuple[str, str]]:
    """Twilio's status callback parameters for the record's current status."""
    params = [
        ("AccountSid", record.account_sid),
        ("ApiVersion", API_VERSION),
        ("From", record.from_ or ""),
        ("MessageSid", record.sid),
        ("MessageStatus", record.status),
        ("NumSegments", str(record.num_segments)),
        ("SmsSid", record.sid),
        ("SmsStatus", record.status),
        ("To", record.to),
    ]
    if record.media_urls:
        params.append(("NumMedia", str(len(record.media_urls))))
    if record.messaging_service_sid:
        params.append(("MessagingServiceSid", record.messaging_service_sid))
    if record.error_code is not None:
        params.append(("ErrorCode", str(record.error_code)))
    if record.channel is Channel.WHATSAPP:
        params.append(("ChannelPrefix", "whatsapp"))
        params.append(
            ("ChannelInstallSid", ids.derived_sid(ids.CHANNEL_INSTALL, record.account_sid))
        )
        params.append(("ChannelToAddress", split_channel(record.to)[1]))
        if record.status == "read":
            params.append(("EventType", "READ"))
        if record.error_code is not None:
            params.append(("ChannelStatusMessage", record.error_message or ""))
    elif record.status in ("delivered", "undelivered"):
        done = datetime.fromtimestamp(record.date_updated, UTC)
        params.append(("RawDlrDoneDate", done.strftime("%y%m%d%H%M")))
    return params


class Lifecycles:
    """Runs message lifecycles as background tasks (see BackgroundTasks for drain/reset)."""

    def __init__(
        self,
        *,
        clock: Clock,
        webhooks: WebhookDispatcher,
        auth_token_for: Callable[[str], str | None],
    ) -> None:
        self.clock = clock
        self.webhooks = webhooks
        self.auth_token_for = auth_token_for

    async def run(
        self,
        record: MessageRecord,
        steps: list[Step],
        pool_sender: str | None,
        report: Callable[[MessageRecord], Awaitable[None]] | None = None,
    ) -> None:
        """Walk the steps; after each one that changes the status, `report` it (default: the
        status callback). As on Twilio, the status a message is created with is not reported:
        the create's answer carries it."""
        loop = asyncio.get_running_loop()
        for step in steps:
            pause = step.at - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            changed = step.status != record.status
            self.apply(record, step, pool_sender)
            if changed:
                await (report or self.post_status_callback)(record)

    async def post_status_callback(self, record: MessageRecord) -> None:
        if record.status_callback:
            await self.webhooks.post(
                kind="status_callback",
                url=record.status_callback,
                params=status_callback_params(record),
                auth_token=self.auth_token_for(record.account_sid) or "",
            )

    def apply(self, record: MessageRecord, step: Step, pool_sender: str | None) -> None:
        now = self.clock.now()
        record.status = step.status
        record.date_updated = now
        if record.from_ is None and pool_sender is not None:
            record.from_ = pool_sender  # a Messaging Service picks its sender when queueing
        if step.status == "sent":
            record.date_sent = now
            record.sent_at = now
            record.price = f"-{PRICE_PER_SEGMENT * max(record.num_segments, 1):.5f}"
        if step.error_code is not None:
            record.error_code = step.error_code
            record.error_message = error_text(step.error_code)
