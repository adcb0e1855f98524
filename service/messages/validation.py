"""Semantic checks of a send request, collecting every problem with its JSON path."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import messages as wire
from service import error_codes, ids
from service.errors import Problem
from service.messages import phone, templates
from service.sending.records import Route

# Which recipient channel a sender channel can reach.
_SENDER_REACHES = {"SMS": "PHONE", "WHATSAPP": "WHATSAPP", "CONVERSATIONS": "CONVERSATIONS"}
RECIPIENT_CHANNELS = frozenset(_SENDER_REACHES.values())
SENDER_CHANNELS = frozenset(_SENDER_REACHES)

_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
MAX_PROBLEMS = 100
SCHEDULE_PAST_TOLERANCE = timedelta(seconds=60)
SCHEDULE_HORIZON = timedelta(days=35)


@dataclass(frozen=True)
class PlannedRecipient:
    position: int
    channel: str
    address: str
    variables: dict[str, str] | None
    # Every (sender, recipient address) pair that can reach this recipient, in the order to
    # try them: the senders' priority first, then the recipient's own order. Empty when no
    # sender can reach any of the recipient's addresses (unaddressable).
    routes: list[Route]
    # A profile's own time zone: a local-time schedule uses it instead of the number's.
    time_zone: str | None = None


@dataclass(frozen=True)
class ProfileSource:
    """A `to` entry naming a profile or an audience, expanded by the workers."""

    kind: str  # "profile" or "audience"
    id: uuid.UUID
    # Its JSON path, to name it when it is not the account's.
    context: str


@dataclass(frozen=True)
class Schedule:
    """An instant, or a wall-clock time applied in each recipient's own time zone."""

    instant: datetime | None
    local: datetime | None


@dataclass
class SendPlan:
    recipients: list[PlannedRecipient]
    content: dict[str, Any]
    # The senders `from` resolved to, in priority order; the first stands for the operation.
    senders: list[dict[str, str]]
    tags: dict[str, str]
    validity_period: int
    schedule: Schedule | None
    # Profiles and audiences named in `to`, in order (service/audiences/expansion.py).
    sources: list[ProfileSource] = field(default_factory=list)


@dataclass
class _Collector:
    problems: list[Problem] = field(default_factory=list)

    def add(self, code: int, message: str, context: str | None) -> None:
        self.problems.append(Problem(code, message, context))


def plan_send(
    request: wire.SendMessagesRequest,
    now: datetime,
    senders: list[dict[str, str]],
    sender_problems: list[Problem] | None = None,
) -> tuple[SendPlan, list[Problem]]:
    """Check everything about the request; the plan is usable only when no problem is found.

    senders are what `from` resolved to (service.senders.logic.resolve_from), with the
    problems found doing so.
    """
    errors = _Collector()
    errors.problems.extend(sender_problems or [])
    sources: list[ProfileSource] = []
    recipients = _check_recipients(request.to, senders, errors, sources)
    content = _check_content(request.content, errors)
    tags = _check_tags(request.tags, errors)
    validity = request.validity_period
    if validity is None:
        validity = wire.VALIDITY_DEFAULT
    elif not wire.VALIDITY_MIN <= validity <= wire.VALIDITY_MAX:
        errors.add(
            error_codes.INVALID_FIELD.code,
            f"validityPeriod must be between {wire.VALIDITY_MIN} and {wire.VALIDITY_MAX} seconds",
            "$.validityPeriod",
        )
    schedule = _check_schedule(request.schedule, now, errors)
    plan = SendPlan(recipients, content, senders, tags, validity, schedule, sources)
    return plan, errors.problems


def _check_recipients(
    recipients: list[wire.RecipientIn],
    senders: list[dict[str, str]],
    errors: _Collector,
    sources: list[ProfileSource],
) -> list[PlannedRecipient]:
    if not recipients:
        errors.add(error_codes.TO_REQUIRED.code, "'to' must list at least one recipient", "$.to")
        return []
    if len(recipients) > wire.MAX_RECIPIENTS:
        errors.add(
            error_codes.INVALID_FIELD.code,
            f"'to' lists {len(recipients)} recipients; at most {wire.MAX_RECIPIENTS} are allowed",
            "$.to",
        )
        return []
    planned: list[PlannedRecipient] = []
    for position, recipient in enumerate(recipients):
        path = f"$.to[{position}]"
        if recipient.profile_id is not None or recipient.audience_id is not None:
            source = _profile_source(recipient, path, errors)
            if source is not None:
                sources.append(source)
            continue
        addresses = _recipient_addresses(recipient, path, errors)
        variables = recipient.variables
        if variables is not None and len(variables) > wire.MAX_VARIABLES:
            errors.add(
                error_codes.INVALID_FIELD.code,
                f"variables may hold at most {wire.MAX_VARIABLES} keys",
                f"{path}.variables",
            )
        routes = plan_routes(senders, addresses)
        channel, address = (
            (routes[0].recipient_channel, routes[0].to)
            if routes
            else addresses[0]
            if addresses
            else ("", "")
        )
        planned.append(PlannedRecipient(position, channel, address, variables or None, routes))
        if len(errors.problems) >= MAX_PROBLEMS:
            break
    return planned


def _profile_source(
    recipient: wire.RecipientIn, path: str, errors: _Collector
) -> ProfileSource | None:
    """A `{profileId}` or `{audienceId}` recipient, checked: it names one and nothing else."""
    others = [
        name
        for name, value in (
            ("address", recipient.address),
            ("channel", recipient.channel),
            ("addresses", recipient.addresses),
            ("variables", recipient.variables),
        )
        if value is not None
    ]
    if recipient.profile_id is not None and recipient.audience_id is not None:
        others.append("audienceId")
    for name in others:
        errors.add(
            error_codes.INVALID_FIELD.code,
            f"a profileId or audienceId recipient takes no {name} (templates read the "
            "profile's attributes)",
            f"{path}.{name}",
        )
    if recipient.profile_id is not None:
        kind, prefix, text, field_name = "profile", ids.PROFILE, recipient.profile_id, "profileId"
    else:
        assert recipient.audience_id is not None
        kind, prefix, text = "audience", ids.AUDIENCE, recipient.audience_id
        field_name = "audienceId"
    key = ids.decode(prefix, text)
    if key is None:
        errors.add(
            error_codes.INVALID_FIELD.code,
            f"{field_name} must be a {prefix}_… id",
            f"{path}.{field_name}",
        )
        return None
    return ProfileSource(kind, key, f"{path}.{field_name}")


def _recipient_addresses(
    recipient: wire.RecipientIn, path: str, errors: _Collector
) -> list[tuple[str, str]]:
    """The recipient's (channel, address) pairs, checked; one unless `addresses` lists several."""
    if recipient.addresses is not None:
        if recipient.address is not None:
            errors.add(
                error_codes.INVALID_FIELD.code,
                "give either address or addresses, not both",
                f"{path}.address",
            )
        if not 1 <= len(recipient.addresses) <= wire.MAX_ADDRESSES:
            errors.add(
                error_codes.INVALID_FIELD.code,
                f"addresses must list 1..{wire.MAX_ADDRESSES} addresses",
                f"{path}.addresses",
            )
            return []
        items = [
            (a.channel, a.address, f"{path}.addresses[{i}]")
            for i, a in enumerate(recipient.addresses)
        ]
    else:
        items = [(recipient.channel or "", recipient.address or "", path)]
    checked: list[tuple[str, str]] = []
    for raw_channel, raw_address, where in items:
        channel = raw_channel.upper()
        address = raw_address
        if channel not in RECIPIENT_CHANNELS:
            errors.add(
                error_codes.INVALID_FIELD.code,
                "channel must be one of PHONE, WHATSAPP, CONVERSATIONS",
                f"{where}.channel",
            )
        if channel == "WHATSAPP":
            address = address.removeprefix("whatsapp:")
        if not address:
            errors.add(
                error_codes.INVALID_TO.code,
                "Invalid 'To' phone number: address is required",
                f"{where}.address",
            )
        elif not phone.is_possible_e164(address):
            errors.add(
                error_codes.INVALID_TO.code, error_codes.INVALID_TO.message, f"{where}.address"
            )
        checked.append((channel, address))
    return checked


def plan_routes(senders: list[dict[str, str]], addresses: list[tuple[str, str]]) -> list[Route]:
    """Every (sender, recipient address) pair on a common channel, in the order to try them."""
    routes: list[Route] = []
    for sender in senders:
        reaches = _SENDER_REACHES.get(sender["channel"])
        for channel, address in addresses:
            if channel == reaches:
                route = Route(
                    channel=sender["channel"],  # type: ignore[arg-type]
                    from_=sender["address"],
                    to=address,
                    recipient_channel=channel,  # type: ignore[arg-type]
                    sender_id=sender.get("senderId"),
                )
                routes.append(route)
    return routes


def _check_content(content: wire.ContentIn, errors: _Collector) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if content.text is None and not content.media and content.content_id is None:
        errors.add(
            error_codes.BODY_REQUIRED.code, "content needs text, media or contentId", "$.content"
        )
    if content.text is not None:
        try:
            templates.compile_template(content.text)
        except templates.TemplateSyntaxError as exc:
            errors.add(
                error_codes.INVALID_FIELD.code, f"template syntax error: {exc}", "$.content.text"
            )
        else:
            if not templates.is_template(content.text) and len(content.text) > wire.MAX_TEXT:
                errors.add(
                    error_codes.BODY_TOO_LONG.code,
                    f"text is longer than {wire.MAX_TEXT} characters",
                    "$.content.text",
                )
        out["text"] = content.text
    if content.media is not None:
        if len(content.media) > wire.MAX_MEDIA:
            errors.add(
                error_codes.TOO_MANY_MEDIA.code,
                f"at most {wire.MAX_MEDIA} media items are allowed",
                "$.content.media",
            )
        for index, item in enumerate(content.media):
            # A URL may be a Liquid template, rendered per recipient (checked again then).
            templated = templates.is_template(item.url)
            if templated:
                try:
                    templates.compile_template(item.url)
                except templates.TemplateSyntaxError as exc:
                    errors.add(
                        error_codes.INVALID_FIELD.code,
                        f"template syntax error: {exc}",
                        f"$.content.media[{index}].url",
                    )
            https = item.url.startswith("https://") and len(item.url) > len("https://")
            if not https and not (templated and item.url.lstrip().startswith(("{{", "{%"))):
                errors.add(
                    error_codes.INVALID_FIELD.code,
                    "media url must be an https URL",
                    f"$.content.media[{index}].url",
                )
        out["media"] = [{"url": item.url} for item in content.media]
    if content.content_id is not None:
        if not _CONTENT_SID.match(content.content_id):
            errors.add(
                error_codes.INVALID_FIELD.code,
                "contentId must be HX followed by 32 hex digits",
                "$.content.contentId",
            )
        out["contentId"] = content.content_id
    return out


def _check_tags(tags: dict[str, str] | None, errors: _Collector) -> dict[str, str]:
    if not tags:
        return {}
    if len(tags) > wire.MAX_TAGS:
        errors.add(
            error_codes.INVALID_FIELD.code, f"at most {wire.MAX_TAGS} tags are allowed", "$.tags"
        )
    for key, value in tags.items():
        if not key or len(key) > wire.MAX_TAG_KEY:
            errors.add(
                error_codes.INVALID_FIELD.code,
                f"tag keys must be 1..{wire.MAX_TAG_KEY} characters",
                f"$.tags.{key}",
            )
        if len(value) > wire.MAX_TAG_VALUE:
            errors.add(
                error_codes.INVALID_FIELD.code,
                f"tag values must be at most {wire.MAX_TAG_VALUE} characters",
                f"$.tags.{key}",
            )
        try:
            templates.compile_template(value)
        except templates.TemplateSyntaxError as exc:
            errors.add(
                error_codes.INVALID_FIELD.code, f"template syntax error: {exc}", f"$.tags.{key}"
            )
    return dict(tags)


def parse_datetime(text: str) -> datetime | None:
    """RFC 3339 date-time; naive when the text has no offset."""
    if "T" not in text and "t" not in text:
        return None
    try:
        return datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None


def _check_schedule(
    schedule: wire.ScheduleIn | None, now: datetime, errors: _Collector
) -> Schedule | None:
    if schedule is None:
        return None
    if len(schedule.send_at) != 1:
        errors.add(
            error_codes.INVALID_FIELD.code,
            "schedule.sendAt must hold exactly one date-time",
            "$.schedule.sendAt",
        )
        return None
    when = parse_datetime(schedule.send_at[0])
    if when is None:
        errors.add(
            error_codes.INVALID_FIELD.code,
            "schedule.sendAt[0] is not an RFC 3339 date-time",
            "$.schedule.sendAt[0]",
        )
        return None
    if when.tzinfo is None:
        # A local time: its instant differs per recipient by at most ±14 h from UTC.
        earliest = when.replace(tzinfo=UTC) - timedelta(hours=14)
        latest = when.replace(tzinfo=UTC) + timedelta(hours=14)
        result = Schedule(instant=None, local=when)
    else:
        earliest = latest = when.astimezone(UTC)
        result = Schedule(instant=earliest, local=None)
    if latest < now - SCHEDULE_PAST_TOLERANCE:
        errors.add(
            error_codes.SCHEDULE_TOO_SOON.code,
            "schedule.sendAt is in the past",
            "$.schedule.sendAt[0]",
        )
    elif earliest > now + SCHEDULE_HORIZON:
        errors.add(
            error_codes.SCHEDULE_TOO_LATE.code,
            "schedule.sendAt is more than 35 days ahead",
            "$.schedule.sendAt[0]",
        )
    return result
