"""Dry run of a send: what each message would be, and when the senders would be done.

The send is checked and planned by the same code as a real one (logic.prepare_send and the
rows accept_send would store), and each message is decided by the rules the worker applies
when it is due (service/sending/rules.py). Nothing is stored or enqueued.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from schemas import messages as wire
from service import error_codes
from service.clock import rfc3339, rfc3339_or_none
from service.messages import logic, store
from service.messages.segments import message_segments
from service.messages.store import MessageRecord
from service.messages.validation import SendPlan
from service.senders import kinds
from service.senders import rates as sender_rates
from service.sending import rules
from service.sending.records import Route
from service.suppressions import store as suppression_store


@dataclass
class _Queued:
    """A message a sender would send: when it is due and what it costs the sender's rate."""

    due: datetime
    cost: int


async def preview_send(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    request: wire.SendMessagesRequest,
    now: datetime,
    base_url: str,
    unregistered_mps: float | None = None,
    allow_loopback: bool = False,
) -> wire.DryRunResult:
    """Everything a send would do, per recipient; raises ValidationFailed like a send."""
    plan, capacity = await logic.prepare_send(
        pool,
        account_sid=account_sid,
        request=request,
        now=now,
        unregistered_mps=unregistered_mps,
        allow_loopback=allow_loopback,
    )
    rows = logic.planned_messages(plan, account_sid, capacity, now)
    suppressed = await suppression_store.suppressed_addresses(
        pool, account_sid, sorted({r.to for row in rows for r in row.routes or []})
    )
    recipients: list[wire.DryRunRecipient] = []
    queues: dict[str, list[_Queued]] = defaultdict(list)
    for row in rows:
        route, opted_out = None, False
        if row.routes:
            index, opted_out = rules.route_after_opt_outs(row.routes, suppressed)
            route = row.routes[index]
        recipient = _preview_recipient(plan, row, route, opted_out, base_url)
        recipients.append(recipient)
        if recipient.status != "FAILED" and route is not None:
            due = row.scheduled_for or now
            queues[route.sender_key].append(_Queued(max(due, now), recipient.segments or 1))
    senders = await _sender_estimates(pool, plan, queues, unregistered_mps, now)
    counts = dict.fromkeys(("QUEUED", "SCHEDULED", "FAILED"), 0)
    for recipient in recipients:
        counts[recipient.status] += 1
    finishes = [s.estimated_completion_at for s in senders if s.estimated_completion_at]
    return wire.DryRunResult(
        total=len(recipients),
        queued=counts["QUEUED"],
        scheduled=counts["SCHEDULED"],
        failed=counts["FAILED"],
        suppressed=sum(recipient.suppressed for recipient in recipients),
        segments=sum(s.segments for s in senders),
        # RFC 3339 UTC text with fixed-width fields sorts as the instants do.
        estimated_completion_at=max(finishes) if finishes else None,
        senders=senders,
        recipients=recipients,
    )


def _preview_recipient(
    plan: SendPlan, row: MessageRecord, route: Route | None, opted_out: bool, base_url: str
) -> wire.DryRunRecipient:
    status = row.status
    error: tuple[int, str] | None = None
    if status == "FAILED":
        error = (int(row.error_code or 0), str(row.error_message))
    if opted_out and error is None:
        status, error = "FAILED", (error_codes.OPTED_OUT.code, error_codes.OPTED_OUT.message)

    content = plan.content
    rendered = rules.Rendered(content, None)
    try:
        rendered = rules.render(content, plan.tags, row.variables)
        rules.check_length(rendered)
    except rules.Refusal as refusal:
        if error is None:
            status, error = "FAILED", (refusal.code, refusal.text)
    text = rendered.text
    tags = rendered.tags if rendered.tags is not None else dict(plan.tags)

    media = content.get("media")
    counted = message_segments(text, route.channel if route else "SMS", with_media=bool(media))
    return wire.DryRunRecipient(
        position=row.position,
        to=wire.AddressOut(address=route.to, channel=route.recipient_channel)
        if route
        else wire.AddressOut(address=row.address, channel=row.channel),
        from_=wire.SenderOut(address=route.from_, channel=route.channel, sender_id=route.sender_id)
        if route
        else None,
        status=status,  # type: ignore[arg-type]
        text=text,
        media=[wire.MediaIn(url=item["url"]) for item in media] if media else None,
        content_id=content.get("contentId"),
        tags=tags,
        encoding=wire.TextEncoding(counted.encoding) if counted else None,
        segments=counted.segments if counted else None,
        scheduled_for=rfc3339_or_none(row.scheduled_for),
        suppressed=opted_out,
        error=wire.ErrorDetail(
            code=error[0], message=error[1], info_url=error_codes.info_url(error[0], base_url)
        )
        if error
        else None,
    )


async def _sender_estimates(
    pool: asyncpg.Pool,
    plan: SendPlan,
    queues: dict[str, list[_Queued]],
    unregistered_mps: float | None,
    now: datetime,
) -> list[wire.DryRunSender]:
    """Each sender sends its backlog, then this send's messages in due order, at its rate."""
    keys = sorted(queues)
    rates = await sender_rates.rates_for(pool, keys, unregistered_mps)
    named = {kinds.sender_key(s["channel"], s["address"]): s for s in plan.senders}
    backlogs = await store.sender_backlogs(pool, keys, now)
    estimates: list[wire.DryRunSender] = []
    for key in keys:
        rate = rates[key]
        backlog = backlogs[key]
        # The backlog's messages are not rendered yet: each counts as one segment.
        free_at = now + timedelta(seconds=backlog / rate)
        queued = sorted(queues[key], key=lambda q: q.due)
        for message in queued:
            free_at = max(free_at, message.due) + timedelta(seconds=message.cost / rate)
        channel, address = kinds.split_key(key)
        sender = named.get(key, {})
        estimates.append(
            wire.DryRunSender(
                from_=wire.SenderOut(
                    address=address, channel=channel, sender_id=sender.get("senderId")
                ),
                mps=rate,
                backlog=backlog,
                messages=len(queued),
                segments=sum(message.cost for message in queued),
                estimated_completion_at=rfc3339(free_at) if queued else None,
            )
        )
    return estimates
