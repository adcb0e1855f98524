"""What the console's pages read, composed from the API's own logic (the same functions, hence
the same indexed queries and the same tenancy checks), and the live progress stream.

Nothing here knows HTTP: routes.py turns these into pages and Server-Sent Events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta

import asyncpg
import msgspec

from schemas.messages import MessageDetail, MessagesPage
from schemas.operations import ErrorCodeCount, OperationRead
from schemas.senders import SenderPoolRead, SenderRead
from schemas.webhooks import DeliveriesPage, WebhookRead
from service.console import present
from service.errors import NotFound
from service.events import logic as events
from service.events import store as event_store
from service.events.feed import Feed
from service.messages import logic as messages
from service.metrics import logic as metrics
from service.operations import logic as operations
from service.senders import kinds
from service.senders import logic as senders
from service.webhooks import logic as webhooks

# The most operations one live stream follows (a page of the operations list).
MAX_LIVE_OPERATIONS = 50
# The least time between two progress updates of one operation while its events pour in; the
# last state is always sent once they pause.
UPDATE_INTERVAL_S = 0.25
SENDERS_SHOWN = 200
WEBHOOK_DELIVERIES_SHOWN = 5


# The live stream -------------------------------------------------------------------------------


class Finished(msgspec.Struct, frozen=True):
    """Nothing about this operation changes any more (its event stream ended)."""

    id: str


LiveUpdate = present.Progress | Finished | None
Inbox = asyncio.Queue[tuple[str, str | BaseException]]


async def follow_progress(
    pool: asyncpg.Pool,
    feed: Feed,
    *,
    account_sid: str,
    operation_ids: Sequence[str],
    base_url: str,
) -> AsyncIterator[LiveUpdate]:
    """The progress of each operation, again whenever its events say something changed, then
    `Finished` once its event stream (GET …/Operations/{id}/Events, the same logic) ends. None
    is a keep-alive. Operations of other accounts, unknown or malformed ids are left out.

    Each operation's stream starts after the events' sequence as it stands before the first
    progress read, which counts what those events say. (A change whose transaction took an
    earlier event id and commits only after that read shows with the next event, or at the
    end, which is read afresh.) An update is a fresh read of the operation's exact stats, at
    most every UPDATE_INTERVAL_S while events pour in and once more whenever its stream has
    caught up, so the last state is always shown.
    """
    # Only where the sequence stands: nothing waits for it to settle.
    start = await event_store.last_event_id(pool)
    wanted = list(dict.fromkeys(operation_ids))[:MAX_LIVE_OPERATIONS]
    inbox: Inbox = asyncio.Queue()
    followed: list[str] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for operation_id in wanted:
            current = await _current(pool, account_sid, operation_id)
            if current is None:
                continue
            try:
                stream = await events.open_operation_stream(
                    pool,
                    feed,
                    account_sid=account_sid,
                    operation_id=operation_id,
                    last_event_id=str(start),
                    base_url=base_url,
                    caught_up=_caught_up_reporting(inbox, operation_id),
                )
            except NotFound:
                continue
            yield present.progress(current)
            followed.append(operation_id)
            tasks.append(asyncio.create_task(_pump(inbox, operation_id, stream)))
        async for update in _updates(pool, account_sid, inbox, set(followed)):
            yield update
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _current(pool: asyncpg.Pool, account_sid: str, operation_id: str) -> OperationRead | None:
    """The operation as it is now; None when it is not (or no longer) there.

    Shielded: a read cut off by the client going away would hand its connection back to the
    pool in the middle of its query, which asyncpg then resets and logs as an error. The
    read runs to its end (milliseconds) and its answer is dropped instead.
    """
    read = asyncio.ensure_future(
        operations.get_operation(pool, account_sid=account_sid, operation_id=operation_id)
    )
    read.add_done_callback(_collect)
    try:
        return await asyncio.shield(read)
    except NotFound:
        return None


def _collect(read: asyncio.Future[OperationRead]) -> None:
    """Mark a shielded read's failure as seen (nobody awaits it once the client has left)."""
    if not read.cancelled():
        read.exception()


def _caught_up_reporting(inbox: Inbox, operation_id: str) -> Callable[[], None]:
    """Tells the console an operation's stream has caught up (it waits for more events)."""

    def caught_up() -> None:
        inbox.put_nowait((operation_id, "caught-up"))

    return caught_up


async def _pump(inbox: Inbox, operation_id: str, stream: AsyncIterator[object | None]) -> None:
    """Each event (or keep-alive) of one operation's stream into the inbox, then its end; a
    failure (PostgreSQL away) is handed over to end the console's stream with it."""
    try:
        async for event in stream:
            inbox.put_nowait((operation_id, "event" if event is not None else "keep-alive"))
    except Exception as exc:  # re-raised by _updates: the client's EventSource reconnects
        inbox.put_nowait((operation_id, exc))
        return
    inbox.put_nowait((operation_id, "end"))


async def _updates(
    pool: asyncpg.Pool,
    account_sid: str,
    inbox: Inbox,
    live: set[str],
) -> AsyncIterator[LiveUpdate]:
    loop = asyncio.get_running_loop()
    changed: set[str] = set()
    shown_at: dict[str, float] = {}
    while live:
        operation_id, what = await inbox.get()
        if isinstance(what, BaseException):
            raise what
        if operation_id not in live:
            continue
        if what == "keep-alive":
            yield None
            continue
        if what == "event":
            changed.add(operation_id)
            if loop.time() - shown_at.get(operation_id, 0.0) < UPDATE_INTERVAL_S:
                continue
        elif what == "caught-up" and operation_id not in changed:
            continue
        current = await _current(pool, account_sid, operation_id)  # None: retention took it
        changed.discard(operation_id)
        shown_at[operation_id] = loop.time()
        if current is not None:
            yield present.progress(current)
        if what == "end" or current is None:
            live.discard(operation_id)
            yield Finished(operation_id)


# Pages -----------------------------------------------------------------------------------------


class ErrorLine(msgspec.Struct, frozen=True):
    code: int | None
    count: int
    description: str


class OperationView(msgspec.Struct, frozen=True):
    operation: OperationRead
    progress: present.Progress
    errors: list[ErrorLine]
    messages: MessagesPage
    cancelable: bool


async def operation_view(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    operation_id: str,
    status: str | None,
    page_size: int,
    page_token: str | None,
    base_url: str,
) -> OperationView:
    """An operation, its failures counted by error code, and a page of its messages."""
    operation = await operations.get_operation(
        pool, account_sid=account_sid, operation_id=operation_id
    )
    # One error row is read with the counts (the page's rows are not shown: the messages list
    # filtered by status shows them, newest first, paged).
    failures = await operations.list_errors(
        pool, account_sid=account_sid, operation_id=operation_id, page_size=1, page_token=None
    )
    page = await messages.list_messages(
        pool,
        account_sid=account_sid,
        operation_id=operation_id,
        status=status,
        page_size=page_size,
        page_token=page_token,
        base_url=base_url,
    )
    return OperationView(
        operation=operation,
        progress=present.progress(operation),
        errors=[_error_line(count) for count in failures.counts],
        messages=page,
        cancelable=operation.status in present.CANCELABLE_OPERATION_STATUSES,
    )


def _error_line(count: ErrorCodeCount) -> ErrorLine:
    return ErrorLine(
        code=count.code, count=count.count, description=present.error_description(count.code)
    )


class MessageView(msgspec.Struct, frozen=True):
    message: MessageDetail
    status_changes: list[events.StatusChange]


async def message_view(
    pool: asyncpg.Pool, *, account_sid: str, message_id: str, base_url: str
) -> MessageView:
    message = await messages.get_message(
        pool, account_sid=account_sid, message_id=message_id, base_url=base_url
    )
    changes = await events.message_status_changes(
        pool, account_sid=account_sid, operation_id=message.operation_id, message_id=message.id
    )
    return MessageView(message=message, status_changes=changes)


class SenderLine(msgspec.Struct, frozen=True):
    sender: SenderRead
    backlog: int
    oldest_wait_s: float


class SendersView(msgspec.Struct, frozen=True):
    senders: list[SenderLine]
    more_senders: bool
    pools: list[SenderPoolRead]
    more_pools: bool


async def senders_view(pool: asyncpg.Pool, *, account_sid: str, now: datetime) -> SendersView:
    """The account's senders with their rate and queue (the figures /metrics reports, per
    sender: a number's queue holds every account's messages from it), and its pools."""
    registered = await senders.list_senders(
        pool, account_sid=account_sid, page_size=SENDERS_SHOWN, page_token=None
    )
    pools = await senders.list_pools(
        pool, account_sid=account_sid, page_size=SENDERS_SHOWN, page_token=None
    )
    queues = {queue.sender_key: queue for queue in await metrics.sender_queues(pool, now)}
    lines = []
    for sender in registered.senders:
        queue = queues.get(kinds.sender_key(sender.channel, sender.address))
        lines.append(
            SenderLine(
                sender=sender,
                backlog=queue.backlog if queue else 0,
                oldest_wait_s=queue.oldest_wait_s if queue else 0.0,
            )
        )
    return SendersView(
        senders=lines,
        more_senders=registered.pagination.next is not None,
        pools=pools.sender_pools,
        more_pools=pools.pagination.next is not None,
    )


class EndpointView(msgspec.Struct, frozen=True):
    endpoint: WebhookRead
    deliveries: DeliveriesPage


async def webhooks_view(pool: asyncpg.Pool, *, account_sid: str) -> list[EndpointView]:
    """Every endpoint of the account with its latest deliveries (an account has at most 20)."""
    endpoints = await webhooks.list_endpoints(
        pool, account_sid=account_sid, page_size=100, page_token=None
    )
    views = []
    for endpoint in endpoints.webhooks:
        views.append(
            EndpointView(
                endpoint=endpoint,
                deliveries=await webhooks.list_deliveries(
                    pool,
                    account_sid=account_sid,
                    owner=webhooks.Owner(webhook_id=endpoint.id),
                    page_size=WEBHOOK_DELIVERIES_SHOWN,
                    page_token=None,
                ),
            )
        )
    return views


async def endpoint_view(
    pool: asyncpg.Pool, *, account_sid: str, webhook_id: str, page_size: int, page_token: str | None
) -> EndpointView:
    endpoint = await webhooks.get_endpoint(pool, account_sid=account_sid, webhook_id=webhook_id)
    deliveries = await webhooks.list_deliveries(
        pool,
        account_sid=account_sid,
        owner=webhooks.Owner(webhook_id=webhook_id),
        page_size=page_size,
        page_token=page_token,
    )
    return EndpointView(endpoint=endpoint, deliveries=deliveries)


async def redeliver(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    webhook_id: str,
    delivery_id: str,
    retry_hours: float,
    now: datetime,
) -> None:
    await webhooks.redeliver(
        pool,
        account_sid=account_sid,
        owner=webhooks.Owner(webhook_id=webhook_id),
        delivery_id=delivery_id,
        retry_window=timedelta(hours=retry_hours),
        now=now,
    )
