"""The decisions of sending, with no I/O: which route a message goes out on, what it may not
be sent with, what an attempt looks like, and what a provider's answer makes of it.

The worker (service/sending/batches.py), the dry run (service/messages/dryrun.py) and receipt
handling (the fall_back query, through has_next_route's SQL twin) all decide through these.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.messages import MAX_TEXT
from service import error_codes
from service.messages import templates
from service.messages.segments import message_segments
from service.sending import retries
from service.sending.channel import SendRequest, SendResult
from service.sending.records import (
    ClaimedMessage,
    EarlierAttempt,
    NewAttempt,
    OperationPlan,
    Outcome,
    Route,
)

# Routes and fallback ---------------------------------------------------------------------------


def has_next_route(routes: Sequence[Route] | None, route_index: int) -> bool:
    """The fallback rule: a message refused for good on route `route_index` is tried on the
    next one when there is one. (SQL: has_next_route(), migrations/0012.)"""
    return route_index + 1 < len(routes or ())


def current_route(message: ClaimedMessage, operation: OperationPlan) -> Route:
    """The (sender, recipient address) pair the message goes out on now."""
    if message.routes:
        return message.routes[message.route_index]
    # Messages stored before routes existed: the operation's one sender.
    return Route(
        channel=operation.sender["channel"],
        from_=operation.sender["address"],
        to=message.address,
        recipient_channel=message.channel,  # type: ignore[arg-type]
    )


def route_after_opt_outs(routes: Sequence[Route], suppressed: set[str]) -> tuple[int, bool]:
    """The route a new message ends up on when the addresses in `suppressed` have opted out:
    each opted-out route falls back to the next, the last one fails. Returns its index, and
    whether the message fails there as opted out (the dry run's view of what workers do)."""
    index = 0
    while routes[index].to in suppressed and has_next_route(routes, index):
        index += 1
    return index, routes[index].to in suppressed


def refused(
    message: ClaimedMessage,
    code: int | None,
    text: str | None,
    now: datetime,
    *,
    attempt_id: uuid.UUID | None = None,
    provider_sid: str | None = None,
    sent_at: datetime | None = None,
) -> Outcome:
    """Refused for good on this route (by the provider, or before any call when the recipient
    opted out): another route that can still reach the recipient is tried now, if any."""
    fall_back = None
    if has_next_route(message.routes, message.route_index):
        fall_back = (message.route_index, now)
    return Outcome.failed(
        message.id,
        code,
        text,
        fall_back=fall_back,
        attempt_id=attempt_id,
        provider_sid=provider_sid,
        sent_at=sent_at,
    )


# Before a message is sent ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A message's content and tags with its recipient's variables filled in."""

    content: dict[str, Any]
    # None when the operation's tags hold no template (the message keeps the operation's).
    tags: dict[str, str] | None

    @property
    def text(self) -> str | None:
        text = self.content.get("text")
        return text if isinstance(text, str) else None


class Refusal(Exception):
    """A message that cannot be sent at all: it ends with this error."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def render(
    content: dict[str, Any], tags: dict[str, str], variables: dict[str, str] | None
) -> Rendered:
    """Fill in the recipient's variables. Refusal: the template fails with these variables
    (e.g. divided_by: 0)."""
    try:
        filled = templates.render_content(content, variables)
        rendered_tags = None
        if any(templates.is_template(value) for value in tags.values()):
            rendered_tags = {k: templates.render(v, variables) for k, v in tags.items()}
    except templates.TemplateRenderError as exc:
        raise Refusal(error_codes.TEMPLATE_RENDER.code, f"Template: {exc}") from exc
    return Rendered(filled, rendered_tags)


def check_length(rendered: Rendered) -> None:
    """Refusal: the rendered text is longer than a message may be, or a rendered media URL is
    not an https URL (the rendered content is still kept on the message, to show what was
    refused)."""
    if rendered.text is not None and len(rendered.text) > MAX_TEXT:
        raise Refusal(
            error_codes.BODY_TOO_LONG.code, f"Rendered text exceeds {MAX_TEXT} characters"
        )
    for item in rendered.content.get("media") or ():
        url = item.get("url", "")
        if not url.startswith("https://") or len(url) <= len("https://"):
            raise Refusal(
                error_codes.INVALID_MEDIA_URL.code, f"Rendered media url is not https: {url!r}"
            )


def expires_at(message: ClaimedMessage, operation: OperationPlan) -> datetime:
    """The end of the message's validity period, from when it was due first."""
    return (message.scheduled_for or message.created_at) + timedelta(
        seconds=operation.validity_period
    )


def expired(message_id: uuid.UUID) -> Outcome:
    return Outcome.failed(message_id, error_codes.EXPIRED.code, error_codes.EXPIRED.message)


def opted_out(message: ClaimedMessage, now: datetime) -> Outcome:
    return refused(message, error_codes.OPTED_OUT.code, error_codes.OPTED_OUT.message, now)


def account_suspended(message: ClaimedMessage) -> Outcome:
    """The account was disabled after the accept: the message ends on every route."""
    code = error_codes.ACCOUNT_SUSPENDED
    return Outcome.failed(message.id, code.code, code.message)


def plan_attempt(
    message: ClaimedMessage,
    operation: OperationPlan,
    rendered: Rendered,
    expires: datetime,
    now: datetime,
    attempt_id: uuid.UUID,
) -> tuple[NewAttempt, SendRequest]:
    """The attempt to record before the call, and the call itself."""
    route = current_route(message, operation)
    content = rendered.content
    media = content.get("media")
    segments = message_segments(rendered.text, route.channel, with_media=bool(media))
    content_sid = content.get("contentId")
    attempt = NewAttempt(
        id=attempt_id,
        message_id=message.id,
        operation_id=message.operation_id,
        account_sid=message.account_sid,
        channel=route.channel,
        from_address=route.from_,
        to_address=route.to,
        segments=segments.segments if segments else None,
        encoding=segments.encoding if segments else None,
        route_index=message.route_index,
    )
    request = SendRequest(
        attempt_id=attempt.id,
        to=route.to,
        from_=route.from_,
        body=rendered.text,
        media_urls=[m["url"] for m in media] if isinstance(media, list) else [],
        content_sid=content_sid if isinstance(content_sid, str) else None,
        content_variables=content_variables(message.variables) if content_sid else None,
        validity_period=max(1, int((expires - now).total_seconds())),
        request_id=operation.request_id,
        traceparent=operation.traceparent,
    )
    return attempt, request


def content_variables(variables: dict[str, str] | None) -> dict[str, str] | None:
    """A content template's variables: the recipient's own, not a profile's (whose attributes
    the message carries as `profile.…` variables for Liquid)."""
    if not variables:
        return variables
    own = {k: v for k, v in variables.items() if not k.startswith(templates.PROFILE_PREFIX)}
    return own or None


# After a call ----------------------------------------------------------------------------------


def transient_failures(message: ClaimedMessage, history: Sequence[EarlierAttempt]) -> int:
    """Attempts on the current route that never reached the provider (each counts toward the
    next retry's backoff)."""
    return sum(
        1 for a in history if a.provider_sid is None and a.route_index == message.route_index
    )


@dataclass(frozen=True)
class Answered:
    """A call that was made: what it was for, and what came back."""

    message: ClaimedMessage
    attempt: NewAttempt
    result: SendResult
    sent_at: datetime
    # Transient failures on this route so far, this one included.
    failures: int
    expires: datetime


def classify(
    call: Answered, now: datetime, rng: random.Random, *, look_up_after_s: float
) -> Outcome:
    """What a provider's answer makes of the message. A lost answer (UNKNOWN) is looked up
    at the provider no sooner than look_up_after_s, so a request still on its way is there
    to be found."""
    message, attempt, result = call.message, call.attempt, call.result
    if result.verdict == "ACCEPTED":
        assert result.provider_sid is not None
        return Outcome.handed_over(
            message.id, attempt.id, result.provider_sid, result.status, sent_at=call.sent_at
        )
    if result.verdict == "PERMANENT":
        return refused(
            message,
            result.error_code,
            result.error_message,
            now,
            attempt_id=attempt.id,
            provider_sid=result.provider_sid,
            sent_at=call.sent_at,
        )
    next_due = retries.next_try_at(now, call.failures, result.retry_after_s, rng)
    if result.verdict == "UNKNOWN":
        look_up_at = max(next_due, now + timedelta(seconds=look_up_after_s))
        return Outcome.unanswered(message.id, attempt.id, look_up_at, sent_at=call.sent_at)
    if next_due >= call.expires:
        return Outcome.failed(
            message.id,
            error_codes.EXPIRED.code,
            f"Message validity period expired after: {result.error_message}",
            attempt_id=attempt.id,
            sent_at=call.sent_at,
        )
    return Outcome.retried(
        message.id,
        attempt.id,
        result.error_code,
        result.error_message,
        next_due,
        sent_at=call.sent_at,
    )


def settled_by_earlier(
    message: ClaimedMessage, history: Sequence[EarlierAttempt]
) -> tuple[Outcome | None, list[EarlierAttempt]]:
    """Never send twice. An earlier attempt on the current route that reached the provider
    settles the message (attempts on earlier routes belong to routes already given up).
    Otherwise, the SUBMITTING ones come back: the provider may have them, so they are looked
    up before anything is sent."""
    current = [a for a in history if a.route_index == message.route_index]
    for attempt in current:
        if attempt.provider_sid is not None:
            return Outcome.handed_over(message.id, attempt.id, attempt.provider_sid), []
    return None, [a for a in current if a.status == "SUBMITTING"]
