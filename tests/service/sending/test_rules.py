"""The sending rules on their own: what a provider's answer makes of a message."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from service import error_codes
from service.sending import rules
from service.sending.channel import SendResult
from service.sending.records import ClaimedMessage, EarlierAttempt, NewAttempt, Outcome, Route

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SENT_AT = NOW - timedelta(milliseconds=300)
SMS = Route(channel="SMS", from_="+15017122661", to="+15558675310", recipient_channel="PHONE")
WHATSAPP = Route(
    channel="WHATSAPP",
    from_="whatsapp:+15017122661",
    to="whatsapp:+15558675310",
    recipient_channel="WHATSAPP",
)


def message(routes: list[Route], route_index: int = 0) -> ClaimedMessage:
    return ClaimedMessage(
        id=uuid.uuid4(),
        operation_id=uuid.uuid4(),
        account_sid="AC" + "0" * 32,
        channel=routes[route_index].recipient_channel,
        address=routes[route_index].to,
        variables=None,
        scheduled_for=None,
        created_at=NOW - timedelta(minutes=1),
        routes=routes,
        route_index=route_index,
    )


def answered(claimed: ClaimedMessage, result: SendResult, failures: int = 1) -> rules.Answered:
    route = claimed.routes[claimed.route_index] if claimed.routes else SMS
    attempt = NewAttempt(
        id=uuid.uuid4(),
        message_id=claimed.id,
        operation_id=claimed.operation_id,
        account_sid=claimed.account_sid,
        channel=route.channel,
        from_address=route.from_,
        to_address=route.to,
        segments=1,
        encoding="GSM-7",
        route_index=claimed.route_index,
    )
    return rules.Answered(claimed, attempt, result, SENT_AT, failures, NOW + timedelta(hours=1))


def classify(call: rules.Answered) -> Outcome:
    return rules.classify(call, NOW, random.Random(1), look_up_after_s=12.0)


def test_an_accepted_call_hands_the_message_over_with_the_moment_it_was_sent() -> None:
    call = answered(message([SMS]), SendResult(verdict="ACCEPTED", provider_sid="SM1"))
    outcome = classify(call)
    assert (outcome.status, outcome.provider_sid, outcome.next_due) == ("QUEUED", "SM1", None)
    assert outcome.sent_at == SENT_AT
    assert not outcome.ends_message


def test_a_permanent_refusal_falls_back_while_a_route_is_left_and_then_ends() -> None:
    refusal = SendResult(verdict="PERMANENT", error_code=21211, error_message="Invalid 'To'")
    first = classify(answered(message([SMS, WHATSAPP]), refusal))
    assert (first.advance, first.route_index, first.next_due, first.ends_message) == (
        True,
        0,
        NOW,
        False,
    )
    last = classify(answered(message([SMS, WHATSAPP], route_index=1), refusal))
    assert (last.advance, last.ends_message, last.error_code) == (False, True, 21211)


def test_a_lost_answer_is_looked_up_no_sooner_than_a_call_may_take() -> None:
    outcome = classify(answered(message([SMS]), SendResult(verdict="UNKNOWN")))
    assert outcome.status == "SUBMITTING"
    assert outcome.next_due is not None
    assert outcome.next_due >= NOW + timedelta(seconds=12)


def test_a_transient_refusal_is_retried_unless_the_retry_falls_past_the_validity() -> None:
    busy = SendResult(verdict="TRANSIENT", error_code=20429, retry_after_s=30)
    claimed = message([SMS])
    retried = classify(answered(claimed, busy))
    assert retried.next_due == NOW + timedelta(seconds=30)
    assert not retried.ends_message
    late = rules.Answered(
        claimed, answered(claimed, busy).attempt, busy, SENT_AT, 1, NOW + timedelta(seconds=10)
    )
    expired = classify(late)
    assert (expired.ends_message, expired.error_code) == (True, error_codes.EXPIRED.code)


def test_an_attempt_the_provider_has_settles_the_message_on_its_route_only() -> None:
    claimed = message([SMS, WHATSAPP], route_index=1)

    def earlier(route_index: int, sid: str | None, status: str) -> EarlierAttempt:
        return EarlierAttempt(
            id=uuid.uuid4(),
            message_id=claimed.id,
            channel="SMS",
            status=status,  # type: ignore[arg-type]
            provider_sid=sid,
            from_address=SMS.from_,
            to_address=SMS.to,
            attempted_at=NOW,
            route_index=route_index,
        )

    # The SMS route reached the provider, but the message is on WhatsApp now.
    settled, to_look_up = rules.settled_by_earlier(claimed, [earlier(0, "SM1", "FAILED")])
    assert (settled, to_look_up) == (None, [])
    unanswered = earlier(1, None, "SUBMITTING")
    settled, to_look_up = rules.settled_by_earlier(claimed, [unanswered])
    assert (settled, to_look_up) == (None, [unanswered])
    settled, _ = rules.settled_by_earlier(claimed, [unanswered, earlier(1, "SM2", "QUEUED")])
    assert settled is not None
    assert settled.provider_sid == "SM2"


def test_a_template_that_fails_or_a_text_too_long_is_refused() -> None:
    with pytest.raises(rules.Refusal) as template:
        rules.render({"text": "{{ 1 | divided_by: 0 }}"}, {}, {})
    assert template.value.code == error_codes.TEMPLATE_RENDER.code
    long_text = rules.render({"text": "{{ a }}"}, {}, {"a": "x" * 1601})
    with pytest.raises(rules.Refusal) as too_long:
        rules.check_length(long_text)
    assert too_long.value.code == error_codes.BODY_TOO_LONG.code
