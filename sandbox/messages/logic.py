"""Creating, fetching and listing messages the way Twilio's 2010-04-01 API does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urlsplit

import msgspec

from sandbox import ids, magic
from sandbox.addresses import (
    Channel,
    is_messaging_service_sid,
    is_valid_recipient,
    is_valid_sender,
    split_channel,
)
from sandbox.errors import TwilioError
from sandbox.media import check_media
from sandbox.messages.lifecycle import Step, plan_steps
from sandbox.messages.resource import MessagePage, messages_path, render_message
from sandbox.messages.store import MessageRecord, MessageStore
from sandbox.rates import MAX_QUEUE_S
from sandbox.segments import count_segments
from sandbox.services import UnknownService, pick_sender
from sandbox.state import SandboxState

MAX_BODY_CHARS = 1600
MAX_MEDIA = 10
MAX_VALIDITY_S = 36_000
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


class MessageCreate(msgspec.Struct, frozen=True, kw_only=True):
    """The form fields of POST …/Messages.json that the sandbox reads (empty = absent)."""

    to: str | None = None
    from_: str | None = None
    messaging_service_sid: str | None = None
    body: str | None = None
    media_urls: tuple[str, ...] = ()
    content_sid: str | None = None
    content_variables: str | None = None
    status_callback: str | None = None
    validity_period: str | None = None


class ListQuery(msgspec.Struct, frozen=True, kw_only=True):
    to: str | None = None
    from_: str | None = None
    date_sent: str | None = None
    date_sent_before: str | None = None  # `DateSent<`: on or before
    date_sent_after: str | None = None  # `DateSent>`: on or after
    page_size: str | None = None
    page: str | None = None
    page_token: str | None = None


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class Checked(msgspec.Struct, frozen=True):
    to: str
    sender: str | None  # the From, None with a Messaging Service
    service: str | None  # the Messaging Service SID
    validity_s: int


def _check_create(create: MessageCreate) -> Checked:
    """Twilio's synchronous validation, in its order."""
    to = create.to
    if not to:
        raise TwilioError(21604)
    if not is_valid_recipient(to):
        raise TwilioError(21211, f"The 'To' number {to} is not a valid phone number.")
    sender = create.from_
    service = create.messaging_service_sid
    if sender and is_messaging_service_sid(sender):
        # As on Twilio, a Messaging Service SID in From is the service (From wins over
        # MessagingServiceSid when both are given).
        sender, service = None, sender
    if not sender and not service:
        raise TwilioError(21603)
    if service and not is_messaging_service_sid(service):
        raise TwilioError(21705, f"The Messaging Service Sid {service} is invalid.")
    if sender and not is_valid_sender(sender):
        raise TwilioError(
            21212,
            f"The 'From' number {sender} is not a valid phone number, shortcode, "
            "or alphanumeric sender ID.",
        )
    if sender and split_channel(sender)[0] is not split_channel(to)[0]:
        raise TwilioError(21910)
    if not create.body and not create.media_urls and not create.content_sid:
        # With a Messaging Service Twilio reports this as 21619.
        raise TwilioError(21619 if service else 21602)
    if create.body and len(create.body) > MAX_BODY_CHARS:
        raise TwilioError(21617)
    if len(create.media_urls) > MAX_MEDIA:
        raise TwilioError(21623)
    if any(not _is_http_url(url) for url in create.media_urls):
        raise TwilioError(21620)
    if create.content_variables and not create.content_sid:
        raise TwilioError(21654)
    if create.content_sid and not (
        len(create.content_sid) == 34
        and create.content_sid.startswith("HX")
        and all(c in "0123456789abcdefABCDEF" for c in create.content_sid[2:])
    ):
        raise TwilioError(21655)
    if create.content_variables:
        try:
            variables = json.loads(create.content_variables)
        except ValueError:
            variables = None
        if not isinstance(variables, dict):
            raise TwilioError(21656)
    validity = MAX_VALIDITY_S
    if create.validity_period:
        try:
            validity = int(create.validity_period)
        except ValueError:
            validity = 0
        if not 1 <= validity <= MAX_VALIDITY_S:
            raise TwilioError(21624)
    if create.status_callback and not _is_http_url(create.status_callback):
        raise TwilioError(21609, f"The StatusCallback URL {create.status_callback} is not valid.")
    return Checked(to=to, sender=sender, service=service, validity_s=validity)


def _check_magic(to: str, sender: str | None) -> None:
    """Twilio's test numbers: a synchronous 400, no message created."""
    bare_to = split_channel(to)[1]
    bare_from = split_channel(sender)[1] if sender else None
    if bare_from is not None and bare_from in magic.FROM_ERRORS:
        code = magic.FROM_ERRORS[bare_from]
        messages = {
            21212: f"The 'From' number {sender} is not a valid phone number, shortcode, "
            "or alphanumeric sender ID.",
            21606: f"The From phone number {sender} is not a valid, SMS-capable inbound phone "
            "number or short code for your account.",
        }
        raise TwilioError(code, messages.get(code))
    if bare_to in magic.TO_ERRORS:
        code = magic.TO_ERRORS[bare_to]
        messages = {
            21211: f"The 'To' number {to} is not a valid phone number.",
            21612: f"The 'To' phone number: {to}, is not currently reachable using the 'From' "
            f"phone number: {sender} via SMS.",
            21408: "Permission to send an SMS has not been enabled for the region indicated by "
            f"the 'To' number: {to}.",
            21614: f"To number: {to}, is not a mobile number",
        }
        raise TwilioError(code, messages.get(code))


def _pool_sender(sandbox: SandboxState, account_sid: str, service_sid: str, to: str) -> str:
    """The number the Messaging Service picks for `to` (sandbox/services.py)."""
    try:
        service = sandbox.services.find(service_sid, account_sid)
    except UnknownService:
        raise TwilioError(
            21701, f"The Messaging Service {service_sid} does not exist for this account."
        ) from None
    picked = pick_sender(service, to)
    if picked is None:
        # Twilio: no number of the service's pool can send on the recipient's channel.
        raise TwilioError(
            21606, f"No sender of the Messaging Service {service_sid} can reach {to}."
        )
    return picked


def whatsapp_session_open(sandbox: SandboxState, to: str, sender: str | None) -> bool:
    """Did `to` message the business (`sender`, or any sender when None) in the last 24 h?"""
    sessions = sandbox.whatsapp_sessions.get(to, {})
    cutoff = sandbox.clock.now() - magic.WHATSAPP_SESSION_S
    if sender is not None:
        return sessions.get(sender, float("-inf")) >= cutoff
    return any(last >= cutoff for last in sessions.values())


def is_opted_out(sandbox: SandboxState, to: str, sender: str | None) -> bool:
    """Did `to` text STOP to `sender` (or to any sender when None)?"""
    user = split_channel(to)[1]
    if sender is not None:
        return (split_channel(sender)[1], user) in sandbox.opt_outs
    return any(handset == user for _, handset in sandbox.opt_outs)


def delivery_outcome(
    sandbox: SandboxState, to: str, sender: str | None, *, templated: bool
) -> magic.Outcome:
    """How a message to `to` will end: magic numbers, then WhatsApp's rules."""
    channel, bare_to = split_channel(to)
    if channel is Channel.WHATSAPP:
        if bare_to == magic.WHATSAPP_NOT_A_USER:
            return magic.WHATSAPP_NOT_A_USER_OUTCOME
        if not templated and not whatsapp_session_open(sandbox, to, sender):
            return magic.WHATSAPP_OUTSIDE_SESSION_OUTCOME
    return magic.TO_OUTCOMES.get(bare_to, magic.DELIVERED)


async def create_message(
    sandbox: SandboxState,
    account_sid: str,
    create: MessageCreate,
    received_at: float | None = None,
) -> MessageRecord:
    """Validate like Twilio, store the message (created when the request was received, by
    default now), and start its lifecycle in the background."""
    checked = _check_create(create)
    to, sender, service, validity_s = (
        checked.to,
        checked.sender,
        checked.service,
        checked.validity_s,
    )
    _check_magic(to, sender)
    pool = _pool_sender(sandbox, account_sid, service, to) if service and not sender else None
    if is_opted_out(sandbox, to, sender):
        raise TwilioError(21610)
    channel = split_channel(to)[0]
    body = create.body or ""
    # WhatsApp and MMS messages are one segment whatever their length.
    single_segment = channel is Channel.WHATSAPP or bool(create.media_urls)
    segments = 1 if single_segment else count_segments(body)

    outcome = delivery_outcome(sandbox, to, sender, templated=bool(create.content_sid))
    queue_key = sender or service or ""
    leaves_queue_at: float | None = None
    if outcome.kind is not magic.OutcomeKind.FAILED:
        wait_s = sandbox.queues.wait_for(queue_key)
        if wait_s > validity_s or wait_s > MAX_QUEUE_S:
            if sender is not None:
                raise TwilioError(21611)
            # A Messaging Service accepts, then fails the message.
            code = 30001 if wait_s > MAX_QUEUE_S else 30036
            outcome = magic.Outcome(magic.OutcomeKind.FAILED, code)
        else:
            leaves_queue_at = sandbox.queues.reserve(queue_key, segments).leaves_at

    now = sandbox.clock.now() if received_at is None else received_at
    record = MessageRecord(
        sid=ids.new_sid(ids.MEDIA_MESSAGE if create.media_urls else ids.MESSAGE),
        account_sid=account_sid,
        to=to,
        from_=sender,
        messaging_service_sid=service,
        body=body,
        media_urls=create.media_urls,
        content_sid=create.content_sid,
        content_variables=create.content_variables,
        status_callback=create.status_callback,
        validity_period_s=validity_s,
        channel=channel,
        direction="outbound-api",
        status="accepted" if service else "queued",
        num_segments=segments,
        date_created=now,
        date_updated=now,
    )
    sandbox.messages.add(record, outbound_send=True)
    steps = plan_steps(
        accepted_at=asyncio.get_running_loop().time(),
        leaves_queue_at=leaves_queue_at,
        delay_s=sandbox.callback_delay_s,
        outcome=outcome,
    )
    sandbox.tasks.spawn(
        _checked_lifecycle(sandbox, record, steps, pool, outcome),
        name=f"lifecycle {record.sid}",
    )
    return record


async def _checked_lifecycle(
    sandbox: SandboxState,
    record: MessageRecord,
    steps: list[Step],
    pool: str | None,
    outcome: magic.Outcome,
) -> None:
    """Fetch the message's media first (as Twilio does once it has accepted the message);
    media that cannot be sent fail the message instead of sending it."""
    mms = record.channel is Channel.SMS and bool(record.media_urls)
    if mms and outcome.kind is not magic.OutcomeKind.FAILED:
        code = await check_media(
            sandbox.webhooks.client, record.media_urls, sandbox.runtime.media_url_rewrites
        )
        if code is not None:
            steps = plan_steps(
                accepted_at=steps[0].at,
                leaves_queue_at=None,
                delay_s=sandbox.callback_delay_s,
                outcome=magic.Outcome(magic.OutcomeKind.FAILED, code),
            )
    await sandbox.lifecycles.run(record, steps, pool)


def fetch_message(store: MessageStore, account_sid: str, sid: str) -> MessageRecord:
    record = store.get(account_sid, sid)
    if record is None:
        raise TwilioError(
            20404, f"The requested resource {messages_path(account_sid)}/{sid}.json was not found"
        )
    return record


def _parse_moment(raw: str, name: str) -> date | datetime:
    """A DateSent value: `YYYY-MM-DD` (a day) or an instant (ISO 8601 or RFC 2822)."""
    text = raw.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise TwilioError(20001, f"Invalid {name}: {raw}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _date_filter(query: ListQuery) -> Callable[[float], bool]:
    checks: list[Callable[[float], bool]] = []
    for raw, name, relation in (
        (query.date_sent, "DateSent", "eq"),
        (query.date_sent_before, "DateSent<", "le"),
        (query.date_sent_after, "DateSent>", "ge"),
    ):
        if not raw:
            continue
        moment = _parse_moment(raw, name)
        checks.append(_compare(moment, relation))
    return lambda epoch: all(check(epoch) for check in checks)


def _compare(moment: date | datetime, relation: str) -> Callable[[float], bool]:
    if isinstance(moment, datetime):
        if relation == "eq":
            day = moment.astimezone(UTC).date()
            return lambda epoch: datetime.fromtimestamp(epoch, UTC).date() == day
        bound = moment.timestamp()
        if relation == "le":
            return lambda epoch: epoch <= bound
        return lambda epoch: epoch >= bound

    def day_of(epoch: float) -> date:
        return datetime.fromtimestamp(epoch, UTC).date()

    if relation == "eq":
        return lambda epoch: day_of(epoch) == moment
    if relation == "le":
        return lambda epoch: day_of(epoch) <= moment
    return lambda epoch: day_of(epoch) >= moment


def _int_param(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise TwilioError(20001, f"Invalid {name}: {raw}") from None


def list_messages(store: MessageStore, account_sid: str, query: ListQuery) -> MessagePage:
    """One page, newest first, with Twilio's PageToken paging (`PA<sid>` / `PB<sid>`).

    Date filters use `date_sent`, or `date_created` while a message has not been sent."""
    page_size = min(
        max(_int_param(query.page_size, "PageSize", DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE
    )
    page = max(_int_param(query.page, "Page", 0), 0)
    in_dates = _date_filter(query)
    matching = [
        record
        for record in store.newest_first(account_sid)
        if (query.to is None or record.to == query.to)
        and (query.from_ is None or record.from_ == query.from_)
        and in_dates(record.date_sent if record.date_sent is not None else record.date_created)
    ]
    start_index = page * page_size
    token = query.page_token or ""
    positions = {record.sid: index for index, record in enumerate(matching)} if token else {}
    if token.startswith("PA") and token[2:] in positions:
        start_index = positions[token[2:]] + 1
    elif token.startswith("PB") and token[2:] in positions:
        start_index = max(positions[token[2:]] - page_size, 0)
    items = matching[start_index : start_index + page_size]

    path = f"{messages_path(account_sid)}.json"
    filters = [
        (name, value)
        for name, value in (
            ("To", query.to),
            ("From", query.from_),
            ("DateSent", query.date_sent),
            ("DateSent<", query.date_sent_before),
            ("DateSent>", query.date_sent_after),
        )
        if value
    ]

    def uri(page_number: int, page_token: str | None = None) -> str:
        params = [*filters, ("PageSize", str(page_size)), ("Page", str(page_number))]
        if page_token:
            params.append(("PageToken", page_token))
        return f"{path}?{urlencode(params)}"

    has_next = start_index + len(items) < len(matching)
    has_previous = start_index > 0 and bool(matching)
    first = page * page_size
    return MessagePage(
        first_page_uri=uri(0),
        end=first + max(len(items) - 1, 0),
        previous_page_uri=uri(max(page - 1, 0), f"PB{items[0].sid}")
        if has_previous and items
        else None,
        messages=[render_message(record) for record in items],
        uri=uri(page, query.page_token),
        page_size=page_size,
        start=first,
        next_page_uri=uri(page + 1, f"PA{items[-1].sid}") if has_next and items else None,
        page=page,
    )
