"""Events: reading the rows the triggers write, in order, as CloudEvents.

Ordering. Event ids come from a sequence, handed out when a row is inserted, but transactions
commit in another order: a reader that saw id 101 committed may later find 100 appear. So
readers never read past a *settled mark*: the sequence's last value S read first, then an xid
X of the reader's own, assigned after that read and ended at once (queries.sql take_mark).
Every transaction that took an id up to S already had its xid (the triggers write events after
the row they describe), so below X; once the oldest running xid is at least X (all of them
ended), no row with an id up to S can still appear. X is not the snapshot's xmax: that is one
past the latest completed xid, and a writer still running with a newer xid is neither below
it nor listed as running, so such a mark settled at once and its rows were skipped. Readers
keep one mark pending and read up to the last settled one, so what they hand out is gap-free
and never reordered. A long transaction delays events (never loses them).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from schemas.events import (
    EVENT_TYPE_PREFIX,
    CloudEvent,
    EventAddress,
    MessageCloudEvent,
    MessageEventData,
    OperationCloudEvent,
    OperationEventData,
)
from service import error_codes, ids
from service.clock import rfc3339
from service.errors import NotFound, Problem, ValidationFailed
from service.events import store
from service.events.feed import Feed
from service.messages.logic import operation_url

# Events read per round trip of a stream.
STREAM_BATCH = 500
# An idle stream says something this often, so proxies do not close it as dead.
KEEPALIVE_S = 15.0


class Mark(msgspec.Struct, frozen=True):
    """Events with ids up to last_id are final once every xid below xmax has ended."""

    last_id: int
    xmax: int


async def take_mark(conn: store.Connection) -> Mark:
    """A mark, taken outside any transaction (its xmax is an xid of its own)."""
    last_id, xmax = await store.take_mark(conn)
    return Mark(last_id, xmax)


async def is_settled(conn: store.Connection, mark: Mark) -> bool:
    return await store.settled(conn, mark.xmax)


def render_event(row: store.EventRow, base_url: str) -> CloudEvent:
    operation = ids.encode(ids.OPERATION, row.operation_id)
    envelope: dict[str, Any] = {
        "id": str(row.id),
        "source": operation_url(base_url, row.operation_id),
        "type": EVENT_TYPE_PREFIX + row.type,
        "time": rfc3339(row.occurred_at),
        "specversion": "1.0",
        "datacontenttype": "application/json",
        # Extension attributes: the send's request id, and its trace (CloudEvents' distributed
        # tracing extension), so an event leads back to the request that caused it.
        "requestid": row.request_id,
        "traceparent": row.traceparent,
    }
    if row.message_id is None:
        return OperationCloudEvent(**envelope, data=OperationEventData(operation_id=operation))
    message = ids.encode(ids.MESSAGE, row.message_id)
    return MessageCloudEvent(
        **envelope,
        subject=message,
        data=MessageEventData(
            operation_id=operation,
            message_id=message,
            downstream_id=row.downstream_id,
            attempt=row.tries,
            error_code=row.error_code,
            from_=_address(row.from_address, row.from_channel),
            to=_address(row.to_address, row.to_channel),
            tags=row.tags,
        ),
    )


def rendered(row: store.EventRow, base_url: str) -> CloudEvent:
    """render_event, once per event in this process: every stream of an operation hands out
    the same events (the feed's rows), so a thousand listeners cost one rendering each."""
    key = (row.id, row.operation_id, base_url)
    event = _RENDERED.get(key)
    if event is None:
        event = _RENDERED[key] = render_event(row, base_url)
        if len(_RENDERED) > RENDERED_KEPT:
            _RENDERED.popitem(last=False)
    return event


# The latest events rendered (any operation's: each stream hands them out within moments), by
# id, operation and deployment (a process that serves several databases, as tests do, cannot
# mistake one database's event for another's with the same id).
RENDERED_KEPT = 4_096
_RENDERED: OrderedDict[tuple[int, uuid.UUID, str], CloudEvent] = OrderedDict()


def _address(address: str | None, channel: str | None) -> EventAddress | None:
    return EventAddress(address, channel or "") if address else None


class StatusChange(msgspec.Struct, frozen=True):
    """A message's move to a status (QUEUED, SENT …), with the route it was on then."""

    status: str
    error_code: int | None
    route_index: int | None
    occurred_at: datetime


async def message_status_changes(
    pool: asyncpg.Pool, *, account_sid: str, operation_id: str, message_id: str
) -> list[StatusChange]:
    """A message's status changes in the order they happened (none for another account's)."""
    operation_key = ids.decode(ids.OPERATION, operation_id)
    message_key = ids.decode(ids.MESSAGE, message_id)
    if operation_key is None or message_key is None:
        return []
    rows = await store.message_events(pool, operation_key, message_key, account_sid)
    return [
        StatusChange(
            status=row.type.removeprefix("message.").upper(),
            error_code=row.error_code,
            route_index=row.route_index,
            occurred_at=row.occurred_at,
        )
        for row in rows
    ]


def parse_last_event_id(text: str | None) -> int:
    """The SSE `Last-Event-ID` header: an event id, or 0 for the start."""
    if text is None or text.strip() == "":
        return 0
    value = text.strip()
    # isascii: isdigit() also holds for digits int() refuses, such as "²" (a latin-1 byte).
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise ValidationFailed(
            [
                Problem(
                    error_codes.INVALID_FIELD.code,
                    "Last-Event-ID must be an event id",
                    "$.Last-Event-ID",
                )
            ]
        )
    return int(value)


async def open_operation_stream(
    pool: asyncpg.Pool,
    feed: Feed,
    *,
    account_sid: str,
    operation_id: str,
    last_event_id: str | None,
    base_url: str,
    keepalive_s: float = KEEPALIVE_S,
    caught_up: Callable[[], None] | None = None,
) -> AsyncIterator[CloudEvent | None]:
    """The operation's events after Last-Event-ID, as they happen (None: a keep-alive after
    keepalive_s without any); ends once it is finished. `caught_up` is called each time the
    stream has handed out every event there is and waits for more.

    Checks happen here, before the stream starts, so a wrong id is a plain 404.
    """
    after = parse_last_event_id(last_event_id)
    key = ids.decode(ids.OPERATION, operation_id)
    if key is None or await store.operation_finished(pool, key, account_sid) is None:
        raise NotFound()
    return _follow(feed, key, after, base_url, keepalive_s, caught_up)


async def _follow(
    feed: Feed,
    operation_id: uuid.UUID,
    cursor: int,
    base_url: str,
    keepalive_s: float,
    caught_up: Callable[[], None] | None,
) -> AsyncIterator[CloudEvent | None]:
    """Follow the process's event feed (service/events/feed.py); no connection is held.

    The feed hands out the events after its cursor as it stood when it took the subscription
    on; the stream reads those before (from its cursor: Last-Event-ID) itself, all settled. A
    subscription the feed dropped (this stream fell BUFFER_ROWS behind) is followed by another
    one, again after catching up by the last id sent. The stream ends once the feed says the
    operation is COMPLETED or CANCELED with every message terminal and every event written
    before that has been sent; it fails when the feed does (PostgreSQL away).
    """
    while True:
        subscription = feed.subscribe(operation_id)
        try:
            while subscription.start is None:
                if subscription.error is not None:
                    raise subscription.error
                if not await subscription.wait(keepalive_s):
                    yield None
            start = subscription.start
            while cursor < start:
                rows = await feed.catch_up(operation_id, cursor, start, STREAM_BATCH)
                for row in rows:
                    yield render_event(row, base_url)
                    cursor = row.id
                if len(rows) < STREAM_BATCH:
                    break
            while True:
                rows = subscription.take()
                for row in rows:
                    if row.id > cursor:  # a Last-Event-ID past the feed's cursor
                        yield rendered(row, base_url)
                        cursor = row.id
                if rows:
                    continue
                if subscription.error is not None:
                    raise subscription.error
                if subscription.ended:
                    return
                if subscription.dropped:
                    break
                if caught_up is not None:
                    caught_up()
                if not await subscription.wait(keepalive_s):
                    yield None
        finally:
            feed.unsubscribe(subscription)
