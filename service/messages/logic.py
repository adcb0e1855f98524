"""Sending (accepting an operation) and reading messages."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import msgspec
import structlog

from schemas import messages as wire
from schemas.common import Pagination, Related
from service import error_codes, filters, ids, request_ids, tracing
from service.audiences import store as audience_store
from service.clock import rfc3339, rfc3339_or_none
from service.error_codes import QUEUE_OVERFLOW, UNADDRESSABLE
from service.errors import NotFound, Problem, ValidationFailed
from service.idempotency import logic as idempotency
from service.messages import phone, store, templates
from service.messages.segments import count_segments
from service.messages.validation import PlannedRecipient, SendPlan, plan_send
from service.pagination import Position, decode_position, position_page, query_fingerprint
from service.senders import logic as sender_logic
from service.senders import rates as sender_rates
from service.webhooks import logic as webhooks

log = structlog.get_logger(__name__)


class Accepted(msgspec.Struct, frozen=True):
    operation_id: uuid.UUID
    due_now: bool
    replayed: bool
    # The statusCallback's signing secret, when the send has one.
    status_callback_secret: str | None = None


async def send_messages(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    request: wire.SendMessagesRequest,
    raw_body: bytes,
    idempotency_key: str | None,
    now: datetime,
    unregistered_mps: float | None = None,
    allow_loopback: bool = False,
) -> Accepted:
    """Accept a send, honouring an Idempotency-Key: a repeat replays the first operation."""
    accept = functools.partial(
        accept_send,
        pool,
        account_sid=account_sid,
        request=request,
        now=now,
        unregistered_mps=unregistered_mps,
        allow_loopback=allow_loopback,
    )
    if idempotency_key is None:
        operation_id, due_now = await accept()
        return await _with_secret(pool, request, Accepted(operation_id, due_now, replayed=False))
    begun = await idempotency.begin(pool, account_sid, idempotency_key, raw_body, now)
    if isinstance(begun, uuid.UUID):
        return await _with_secret(pool, request, Accepted(begun, due_now=False, replayed=True))
    try:
        operation_id, due_now = await accept(claim=begun)
    except BaseException:
        await idempotency.release(pool, begun)
        raise
    return await _with_secret(pool, request, Accepted(operation_id, due_now, replayed=False))


async def _with_secret(
    pool: asyncpg.Pool, request: wire.SendMessagesRequest, accepted: Accepted
) -> Accepted:
    """The answer shows the statusCallback's signing secret (a replay's too, as the first)."""
    if request.status_callback is None:
        return accepted
    secret = await store.status_callback_secret(pool, accepted.operation_id)
    return msgspec.structs.replace(accepted, status_callback_secret=secret)


async def accept_send(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    request: wire.SendMessagesRequest,
    now: datetime,
    claim: idempotency.Claim | None = None,
    unregistered_mps: float | None = None,
    allow_loopback: bool = False,
) -> tuple[uuid.UUID, bool]:
    """Store the operation and all its messages; return its id and whether any is due now.

    The caller enqueues the dispatch after this returns (after commit): a lost enqueue only
    delays sending until the worker's periodic claim finds the due messages.
    """
    # The statusCallback's host is resolved before a connection is taken: a slow DNS answer
    # holds none. Then one connection for the reads and the transaction: each connection taken
    # from the pool costs a round trip when it goes back (its reset).
    callback_problems = await _callback_problems(request, allow_loopback)
    async with pool.acquire() as conn:
        plan, capacity = await prepare_send(
            conn,
            account_sid=account_sid,
            request=request,
            now=now,
            unregistered_mps=unregistered_mps,
            callback_problems=callback_problems,
        )
        operation_id = ids.uuid7()
        # A large send's recipients are staged, and the workers make them into messages, as
        # they expand an audience (migrations/0023); a smaller one's messages are stored now.
        staged = len(plan.recipients) > STAGED_OVER
        records: list[store.MessageRecord] = []
        due_now = False
        if not staged:
            message_ids = ids.uuid7_batch(len(plan.recipients))
            records, due_now = _message_records(
                plan, operation_id, account_sid, message_ids, capacity, now
            )
        async with conn.transaction():
            await store.insert_operation(
                conn,
                operation_id=operation_id,
                account_sid=account_sid,
                status="SCHEDULED" if plan.schedule else "PROCESSING",
                tags=plan.tags,
                content=plan.content,
                sender=plan.senders[0] if plan.senders else {},
                validity_period=plan.validity_period,
                # Staged recipients count from the accept on (operations.logic.present_operation
                # shows those not made into messages yet as waiting).
                total=len(plan.recipients) if staged else len(records),
                now=now,
                status_callback=request.status_callback,
                status_callback_secret=ids.signing_secret() if request.status_callback else None,
                # The request's id and trace go with everything the send leads to (provider calls,
                # events), whenever that happens (service/request_ids.py, service/tracing.py).
                request_id=request_ids.current(),
                traceparent=tracing.traceparent(),
            )
            if records:
                await store.copy_messages(conn, records)
            if staged:
                await store.stage_recipients(conn, operation_id, staged_chunks(plan.recipients))
            if plan.sources or staged:
                # Profiles, audiences and staged recipients are expanded by the workers, page by
                # page (service/audiences/expansion.py): the accept stores only what they name.
                expansion = expansion_of(plan, first_position=len(request.to), staged=staged)
                await audience_store.begin_expansion(conn, operation_id, expansion)
                due_now = True
            if claim is not None:
                await idempotency.complete(conn, claim, operation_id)
    log.info(
        "send accepted",
        operation_id=ids.encode(ids.OPERATION, operation_id),
        recipients=len(plan.recipients),
        staged=staged,
        due_now=due_now,
    )
    return operation_id, due_now


async def queue_capacity(
    pool: asyncpg.Pool | asyncpg.Connection,
    plan: SendPlan,
    unregistered_mps: float | None,
    now: datetime,
) -> dict[str, int] | None:
    """For each first sender, how many more messages it can take before its backlog outlasts
    the validity period or the 4 hours a sender's queue holds (sender_rates.MAX_QUEUE_S).
    None when unbounded (scheduled sends are checked when due, not now).
    """
    if plan.schedule is not None:
        return None
    keys = sorted({r.routes[0].sender_key for r in plan.recipients if r.routes})
    rates = await sender_rates.rates_for(pool, keys, unregistered_mps)
    text = plan.content.get("text")
    segments = 1
    if isinstance(text, str) and not templates.is_template(text):
        segments = max(1, count_segments(text).segments)
    horizon = min(plan.validity_period, sender_rates.MAX_QUEUE_S)
    backlogs = await store.sender_backlogs(pool, keys, now)
    return {key: max(0, int(rates[key] * horizon / segments) - backlogs[key]) for key in keys}


# Sends of more recipients than this have them staged (accept_send), STAGED_CHUNK a chunk: one
# page of the expansion each.
STAGED_OVER = 1_000
STAGED_CHUNK = 2_000
_staged_encoder = msgspec.msgpack.Encoder()
_staged_decoder = msgspec.msgpack.Decoder(list[PlannedRecipient])


def staged_chunks(recipients: list[PlannedRecipient]) -> list[bytes]:
    """A send's recipients as they are staged (operation_recipients.recipients)."""
    return [
        _staged_encoder.encode(recipients[start : start + STAGED_CHUNK])
        for start in range(0, len(recipients), STAGED_CHUNK)
    ]


def staged_recipients(chunk: bytes) -> list[PlannedRecipient]:
    return _staged_decoder.decode(chunk)


def expansion_of(plan: SendPlan, first_position: int, staged: bool = False) -> dict[str, Any]:
    """What the workers need to expand the send's profiles, audiences and staged recipients
    into messages."""
    schedule = None
    if plan.schedule is not None:
        schedule = {
            "instant": plan.schedule.instant.isoformat() if plan.schedule.instant else None,
            "local": plan.schedule.local.isoformat() if plan.schedule.local else None,
        }
    return {
        "profiles": [str(s.id) for s in plan.sources if s.kind == "profile"],
        "audiences": [str(s.id) for s in plan.sources if s.kind == "audience"],
        "senders": plan.senders,
        "schedule": schedule,
        "firstPosition": first_position,
        "staged": staged,
    }


def message_records(
    plan: SendPlan,
    recipients: list[PlannedRecipient],
    operation_id: uuid.UUID,
    account_sid: str,
    capacity: dict[str, int] | None,
    now: datetime,
) -> tuple[list[store.MessageRecord], bool]:
    """Message rows for some recipients of a send, as accept_send writes them (the
    expansion of profiles and audiences writes its pages with this)."""
    page = SendPlan(
        recipients,
        plan.content,
        plan.senders,
        plan.tags,
        plan.validity_period,
        plan.schedule,
    )
    return _message_records(
        page, operation_id, account_sid, ids.uuid7_batch(len(recipients)), capacity, now
    )


def _message_records(
    plan: SendPlan,
    operation_id: uuid.UUID,
    account_sid: str,
    message_ids: list[uuid.UUID],
    capacity: dict[str, int] | None,
    now: datetime,
) -> tuple[list[store.MessageRecord], bool]:
    records: list[store.MessageRecord] = []
    due_now = False
    taken: dict[str, int] = {}
    for message_id, recipient in zip(message_ids, plan.recipients, strict=True):
        error_code: int | None = None
        error_message: str | None = None
        scheduled_for = scheduled_instant(plan, recipient.address, recipient.time_zone)
        sender_key = recipient.routes[0].sender_key if recipient.routes else ""
        due_at: datetime | None
        status: wire.MessageStatus
        if not recipient.routes:
            status, due_at = "FAILED", None
            error_code, error_message = UNADDRESSABLE.code, UNADDRESSABLE.message
        elif scheduled_for is not None:
            status, due_at = "SCHEDULED", max(scheduled_for, now)
        else:
            status, due_at = "QUEUED", now
            taken[sender_key] = taken.get(sender_key, 0) + 1
            if capacity is not None and taken[sender_key] > capacity.get(sender_key, 0):
                # The sender's queue would outlast the validity period: fail now, not later.
                status, due_at = "FAILED", None
                error_code, error_message = QUEUE_OVERFLOW.code, QUEUE_OVERFLOW.message
        due_now = due_now or (due_at is not None and due_at <= now)
        records.append(
            store.MessageRecord(
                id=message_id,
                operation_id=operation_id,
                account_sid=account_sid,
                position=recipient.position,
                channel=recipient.channel,
                address=recipient.address,
                variables=recipient.variables,
                status=status,
                scheduled_for=scheduled_for,
                due_at=due_at,
                created_at=now,
                updated_at=now,
                sender_key=sender_key,
                error_code=error_code,
                error_message=error_message,
                operation_tags=plan.tags,
                routes=recipient.routes or None,
            )
        )
    return records, due_now


def scheduled_instant(
    plan: SendPlan, address: str, time_zone: str | None = None
) -> datetime | None:
    """When a recipient's message is due: the instant, or the local time in its zone (a
    profile's own time zone when it has one, else the number's)."""
    schedule = plan.schedule
    if schedule is None:
        return None
    if schedule.instant is not None:
        return schedule.instant
    assert schedule.local is not None
    zone = _zone(time_zone) or phone.time_zone_of(address)
    return schedule.local.replace(tzinfo=zone).astimezone(UTC)


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# Shared with the dry run (service/messages/dryrun.py) -------------------------------------


async def prepare_send(
    pool: asyncpg.Pool | asyncpg.Connection,
    *,
    account_sid: str,
    request: wire.SendMessagesRequest,
    now: datetime,
    unregistered_mps: float | None = None,
    allow_loopback: bool = False,
    callback_problems: list[Problem] | None = None,
) -> tuple[SendPlan, dict[str, int] | None]:
    """Check a send and size its senders' queues: all accept_send decides before storing.

    callback_problems: the statusCallback already checked (_callback_problems), else it is here.
    """
    senders, sender_problems = await sender_logic.resolve_from(pool, account_sid, request.from_)
    plan, problems = plan_send(request, now, senders, sender_problems)
    problems += await _unknown_sources(pool, account_sid, plan)
    if callback_problems is None:
        callback_problems = await _callback_problems(request, allow_loopback)
    problems += callback_problems
    if problems:
        raise ValidationFailed(problems)
    return plan, await queue_capacity(pool, plan, unregistered_mps, now)


async def _unknown_sources(
    pool: asyncpg.Pool | asyncpg.Connection, account_sid: str, plan: SendPlan
) -> list[Problem]:
    """The profiles and audiences `to` names that are not this account's (each one named)."""
    profiles = [s.id for s in plan.sources if s.kind == "profile"]
    audiences = [s.id for s in plan.sources if s.kind == "audience"]
    known = await audience_store.account_profiles(pool, profiles, account_sid)
    known |= await audience_store.account_audiences(pool, audiences, account_sid)
    problems = []
    for source in plan.sources:
        if source.id not in known:
            entry = (
                error_codes.UNKNOWN_PROFILE
                if source.kind == "profile"
                else error_codes.UNKNOWN_AUDIENCE
            )
            prefix = ids.PROFILE if source.kind == "profile" else ids.AUDIENCE
            problems.append(
                Problem(
                    entry.code,
                    f"no {source.kind} of this account has the id {ids.encode(prefix, source.id)}",
                    source.context,
                )
            )
    return problems


async def _callback_problems(
    request: wire.SendMessagesRequest, allow_loopback: bool
) -> list[Problem]:
    if request.status_callback is None:
        return []
    return await webhooks.url_problems(
        request.status_callback, "$.statusCallback", allow_loopback=allow_loopback
    )


def planned_messages(
    plan: SendPlan, account_sid: str, capacity: dict[str, int] | None, now: datetime
) -> list[store.MessageRecord]:
    """The message rows accept_send would store, with blank ids (dry run)."""
    blank = uuid.UUID(int=0)
    records, _ = _message_records(
        plan, blank, account_sid, [blank] * len(plan.recipients), capacity, now
    )
    return records


# Reading -------------------------------------------------------------------------------------


OPERATIONS_PATH = "/v1/Messages/Operations"


def operation_url(base_url: str, operation_id: uuid.UUID) -> str:
    return f"{base_url}{OPERATIONS_PATH}/{ids.encode(ids.OPERATION, operation_id)}"


def _sender_out(sender: dict[str, Any]) -> wire.SenderOut | None:
    if not sender.get("address"):
        return None
    return wire.SenderOut(
        address=sender["address"], channel=sender["channel"], sender_id=sender.get("senderId")
    )


def present_messages(rows: list[store.MessageRow], base_url: str) -> list[wire.MessageRead]:
    """A page's messages. A send's messages come together in a page, so each operation's id
    and link are made once a page, not once a row."""
    operations: dict[uuid.UUID, _OperationRef] = {}
    page = []
    for row in rows:
        operation = operations.get(row.operation_id)
        if operation is None:
            operation = operations[row.operation_id] = _operation_ref(row.operation_id, base_url)
        page.append(wire.MessageRead(**_message_fields(row, operation)))
    return page


class _OperationRef(msgspec.Struct, frozen=True):
    """A message's operation as its read shows it."""

    id: str
    related: list[Related]


def _operation_ref(operation_id: uuid.UUID, base_url: str) -> _OperationRef:
    operation = ids.encode(ids.OPERATION, operation_id)
    uri = f"{base_url}{OPERATIONS_PATH}/{operation}"
    return _OperationRef(operation, [Related(name="OPERATION", id=operation, uri=uri)])


def _message_fields(row: store.MessageRow, operation: _OperationRef) -> dict[str, Any]:
    return {
        "id": ids.encode(ids.MESSAGE, row.id),
        "operation_id": operation.id,
        "from_": _sender_out(row.sender),
        "to": [wire.AddressOut(address=row.address, channel=row.channel)],
        "status": row.status,
        "related": operation.related,
        "tags": row.tags,
        "scheduled_for": rfc3339_or_none(row.scheduled_for),
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
        "deleted_at": rfc3339_or_none(row.deleted_at),
    }


def present_attempt(row: store.AttemptRow, base_url: str) -> wire.AttemptRead:
    error = None
    if row.error_code is not None:
        error = wire.ErrorDetail(
            code=row.error_code,
            message=row.error_message or "",
            info_url=error_codes.info_url(row.error_code, base_url),
        )
    to_channel = {"SMS": "PHONE"}.get(row.channel, row.channel)
    return wire.AttemptRead(
        id=row.provider_sid or ids.encode(ids.ATTEMPT, row.id),
        channel=row.channel,
        from_=wire.SenderOut(address=row.from_address, channel=row.channel),
        to=[wire.AddressOut(address=row.to_address, channel=to_channel)],
        status="QUEUED" if row.status == "SUBMITTING" else row.status,
        attempted_at=rfc3339(row.attempted_at),
        updated_at=rfc3339(row.updated_at),
        segments=row.segments,
        error=error,
    )


async def get_message(
    pool: asyncpg.Pool, *, account_sid: str, message_id: str, base_url: str
) -> wire.MessageDetail:
    key = ids.decode(ids.MESSAGE, message_id)
    row = await store.get_message(pool, key, account_sid) if key else None
    if row is None:
        raise NotFound()
    attempts = await store.list_attempts(pool, row.id)
    content = row.content
    return wire.MessageDetail(
        **_message_fields(row, _operation_ref(row.operation_id, base_url)),
        content=wire.MessageContentOut(
            text=content.get("text"),
            media=[wire.MediaIn(url=m["url"]) for m in content["media"]]
            if content.get("media")
            else None,
            content_id=content.get("contentId"),
        )
        if content
        else None,
        attempts=[present_attempt(a, base_url) for a in attempts],
    )


MESSAGE_STATUSES: tuple[str, ...] = get_args(wire.MessageStatus)
RECIPIENT_CHANNELS: tuple[str, ...] = get_args(wire.RecipientChannel)


def message_url(base_url: str, message_id: uuid.UUID, prefix: str = "/v1") -> str:
    return f"{base_url}{prefix}/Messages/{ids.encode(ids.MESSAGE, message_id)}"


async def list_messages(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    operation_id: str | None = None,
    status: str | None = None,
    channel: str | None = None,
    address: str | None = None,
    tags: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    page_size: int,
    page_token: str | None,
    base_url: str,
) -> wire.MessagesPage:
    """GET /v1/Messages: the filters as query text (`tags` as `k:v;k2:v2;`)."""
    problems = filters.FilterProblems()
    checked = _message_filters(
        problems,
        operation_id=operation_id,
        status=status,
        channel=channel,
        address=address,
        tags=filters.tags_query(tags, "$.tags", problems),
        start_date=start_date,
        end_date=end_date,
    )
    return await _message_page(pool, account_sid, checked, page_size, page_token, base_url)


async def search_messages(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    request: wire.SearchMessagesRequest,
    page_size: int,
    page_token: str | None,
    base_url: str,
) -> wire.MessagesPage:
    """POST /v1/Messages/Search: the same filters in a JSON body, `tags` as a map."""
    problems = filters.FilterProblems()
    checked = _message_filters(
        problems,
        operation_id=request.operation_id,
        status=request.status,
        channel=request.channel,
        address=request.address,
        tags=filters.tags_map(request.tags, "$.tags", problems),
        start_date=request.start_date,
        end_date=request.end_date,
    )
    return await _message_page(pool, account_sid, checked, page_size, page_token, base_url)


def _message_filters(
    problems: filters.FilterProblems,
    *,
    operation_id: str | None,
    status: str | None,
    channel: str | None,
    address: str | None,
    tags: dict[str, str] | None,
    start_date: str | None,
    end_date: str | None,
) -> store.MessageFilters:
    start = filters.timestamp(start_date, "$.startDate", problems)
    end = filters.timestamp(end_date, "$.endDate", problems)
    filters.date_range(start, end, "$.endDate", problems)
    checked = store.MessageFilters(
        operation_id=filters.typeid(operation_id, ids.OPERATION, "$.operationId", problems),
        status=filters.choice(status, MESSAGE_STATUSES, "$.status", problems),
        channel=filters.choice(channel, RECIPIENT_CHANNELS, "$.channel", problems),
        address=filters.address(address, "$.address", problems),
        tags=tags,
        start_date=start,
        end_date=end,
    )
    problems.raise_any()
    return checked


async def _message_page(
    pool: asyncpg.Pool,
    account_sid: str,
    checked: store.MessageFilters,
    page_size: int,
    page_token: str | None,
    base_url: str,
) -> wire.MessagesPage:
    query = query_fingerprint("messages", checked)
    start = decode_position(query, page_token)
    rows = await store.list_messages(
        pool, account_sid=account_sid, filters=checked, after=start, limit=page_size + 1
    )
    page, next_token, self_token = position_page(
        rows, page_size, query, start, lambda r: Position(r.created_at, r.id)
    )
    return wire.MessagesPage(
        messages=present_messages(page, base_url),
        pagination=Pagination(next=next_token, self=self_token),
    )


async def seek_message(pool: asyncpg.Pool, *, account_sid: str, identifier: str) -> uuid.UUID:
    """The message that owns a provider SID (one of its attempts'), of this account only."""
    message_id = await store.find_message_by_provider_sid(pool, identifier, account_sid)
    if message_id is None:
        raise NotFound()
    return message_id
