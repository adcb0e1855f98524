"""One event feed per API process: every SSE stream of the process follows it.

A stream used to poll PostgreSQL on its own (a few statements every SSE_POLL_INTERVAL_S), so a
thousand listeners made thousands of statements a second. The feed reads for all of them: one
task, in rounds, each round a handful of statements whatever the number of listeners:

- the settled mark (service/events/logic.py): is the pending mark settled? if events were
  written since the last one, take a new one (settled at once when every transaction that may
  still add an event up to it has ended);
- one read of the new settled events of every followed operation (`feed_events`), handed to
  each subscriber of the operation (its buffer, then its stream);
- one look at which followed operations have finished (those that had events, those newly
  followed, and every one each FINISH_CHECK_S), so their streams can end.

Rounds run when PostgreSQL says events were written (a statement-level trigger NOTIFYs
`comms_events`, migrations/0018; the feed LISTENs on a connection of its own and waits
DEBOUNCE_S for more), while a mark waits to settle (SETTLE_RETRY_S), and every
LISTENING_ROUND_S anyway. Without its listening connection (starting, lost, PostgreSQL away) it
polls every `poll_s` (SSE_POLL_INTERVAL_S) and tries to listen again meanwhile. With no
subscriber it issues nothing.

A subscriber starts where the feed's cursor stands (`Subscription.start`): rows after it come
from the feed, those up to it (from Last-Event-ID, or the operation's start) the stream reads
itself. Every id up to the cursor is settled, so the two meet without a gap or a duplicate.
A subscriber whose buffer would outgrow BUFFER_ROWS (a slow client) leaves the feed
(`dropped`) and catches up from the database by its last id, then subscribes again. A round
that fails (PostgreSQL away or hung) ends every subscriber's stream with the error (past its
headers a stream cannot answer 503; the client reconnects with Last-Event-ID), as a stream's
own failing poll did.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import asyncpg
import structlog

from service import db
from service.events import store

log = structlog.get_logger(__name__)

T = TypeVar("T")

CHANNEL = "comms_events"
# How its listening connection shows in pg_stat_activity.
APPLICATION = "comms event feed"
# Seconds before listening again, or before the next round after a failed one, after each
# failure in a row (the last repeats).
RETRY_SCHEDULE_S = (0.5, 1.0, 2.0, 5.0)
# Events read per statement.
FEED_BATCH = 2_000
# Events one subscriber may have waiting; past that it leaves the feed and catches up itself.
BUFFER_ROWS = 1_000
# After a notification, the feed waits this long for more before its round: a send writes its
# events in many transactions, and one round reads them all.
DEBOUNCE_S = 0.05
# Pauses before looking again whether the pending mark has settled (the last repeats, but
# never longer than poll_s): a transaction that was running when it was taken has to end.
SETTLE_RETRY_S = (0.01, 0.02, 0.05, 0.1, 0.2)
# While listening, a round this often even without a notification.
LISTENING_ROUND_S = 5.0
# Every followed operation is looked at this often for its end, beside those that had events
# (an operation can finish without an event: its last messages CANCELED).
FINISH_CHECK_S = 5.0


class FeedClosed(Exception):
    """The API process is stopping."""


class Subscription:
    """One stream's place in the feed: the events of its operation the feed read for it."""

    def __init__(self, operation_id: uuid.UUID) -> None:
        self.operation_id = operation_id
        # The feed's cursor when it took the subscription on (None until then): events after
        # it come from the feed, those up to it the stream reads itself.
        self.start: int | None = None
        # The operation has finished and every event of it up to then is in the buffer.
        self.ended = False
        # The buffer outgrew BUFFER_ROWS: nothing more comes; the stream catches up itself.
        self.dropped = False
        # The feed failed: the stream ends with this.
        self.error: BaseException | None = None
        self._rows: deque[store.EventRow] = deque()
        self._changed = asyncio.Event()

    def take(self) -> list[store.EventRow]:
        """The events waiting, in order (the buffer is emptied)."""
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def wait(self, timeout_s: float) -> bool:
        """Until something changed (events, start, end, failure); False after timeout_s."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            return False
        self._changed.clear()
        return True

    def _put(self, rows: list[store.EventRow]) -> bool:
        if len(self._rows) + len(rows) > BUFFER_ROWS:
            self.dropped = True
            self._changed.set()
            return False
        self._rows.extend(rows)
        self._changed.set()
        return True

    def _end(self) -> None:
        self.ended = True
        self._changed.set()

    def _fail(self, error: BaseException) -> None:
        self.error = error
        self._changed.set()


class Feed:
    def __init__(
        self, pool: asyncpg.Pool, database_url: str, *, poll_s: float, timeout_s: float
    ) -> None:
        self._pool = pool
        self._url = database_url
        self._poll_s = poll_s
        self._timeout_s = timeout_s
        self._topics: dict[uuid.UUID, set[Subscription]] = {}
        self._joining: list[Subscription] = []
        # Finished operations: their streams end once the cursor reaches the id.
        self._finishing: dict[uuid.UUID, int] = {}
        self._to_check: set[uuid.UUID] = set()
        self._checked_all_at = 0.0
        # Events up to the cursor are handed out; up to the horizon they are final (None: no
        # mark has settled yet since the feed started).
        self._cursor: int | None = None
        self._horizon: int | None = None
        self._pending: tuple[int, int] | None = None  # a mark: (last event id, xmax)
        self._marked = 0  # the last event id of the latest mark, settled or not
        self._settle_tries = 0
        # Events may have been written since the last mark.
        self._dirty = True
        self._in_round = False
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        # Set while its connection listens (tests wait for it), and that connection's backend.
        self.listening = asyncio.Event()
        self.listener_pid: int | None = None
        # What it cost (tests and the bench read these): rounds, statements of the rounds,
        # events read, and the statements streams ran to catch up on their own.
        self.rounds = 0
        self.queries = 0
        self.rows_read = 0
        self.catch_up_queries = 0

    # Life ---------------------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="event-feed"),
            asyncio.create_task(self._listen_forever(), name="event-feed-listener"),
        ]
        self._tasks[0].add_done_callback(self._stopped)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._closed = True
        self._fail_all(FeedClosed("the API process is stopping"))

    def _stopped(self, task: asyncio.Task[None]) -> None:
        """The rounds ended (stop(), or a fault of the feed's own): no stream waits on them."""
        if not task.cancelled() and task.exception() is not None:
            log.error("event feed: stopped by a fault", exc_info=task.exception())
        self._closed = True
        self._fail_all(FeedClosed("the event feed stopped"))

    # Subscribers --------------------------------------------------------------------------------

    def subscribe(self, operation_id: uuid.UUID) -> Subscription:
        subscription = Subscription(operation_id)
        if self._closed:
            subscription._fail(FeedClosed("the event feed stopped"))
        elif self._in_round or self._cursor is None:
            self._joining.append(subscription)  # taken on at the round's end
        else:
            self._take_on(subscription)
        self._wake.set()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self._joining.remove(subscription)
        topic = self._topics.get(subscription.operation_id)
        if topic is not None and subscription in topic:
            topic.discard(subscription)
            if not topic:
                self._forget(subscription.operation_id)

    @property
    def cursor(self) -> int | None:
        """Events up to here have been handed out (None until the feed's first mark settled)."""
        return self._cursor

    @property
    def marked(self) -> int:
        """The last event id of the latest mark taken, settled or not (0 before the first)."""
        return self._marked

    @property
    def subscribers(self) -> int:
        return len(self._joining) + sum(len(topic) for topic in self._topics.values())

    async def catch_up(
        self, operation_id: uuid.UUID, after: int, upto: int, limit: int
    ) -> list[store.EventRow]:
        """A stream's own read of its operation's events after `after` up to `upto` (at most
        its start: settled)."""
        self.catch_up_queries += 1
        return await store.operation_events(self._pool, operation_id, after, upto, limit)

    def _take_on(self, subscription: Subscription) -> None:
        subscription.start = self._cursor
        topic = self._topics.get(subscription.operation_id)
        if topic is None:
            topic = self._topics[subscription.operation_id] = set()
            self._to_check.add(subscription.operation_id)
        topic.add(subscription)
        subscription._changed.set()

    def _forget(self, operation_id: uuid.UUID) -> None:
        self._topics.pop(operation_id, None)
        self._finishing.pop(operation_id, None)
        self._to_check.discard(operation_id)

    def _fail_all(self, error: BaseException) -> None:
        for topic in self._topics.values():
            for subscription in topic:
                subscription._fail(error)
        for subscription in self._joining:
            subscription._fail(error)
        self._topics.clear()
        self._joining.clear()
        self._finishing.clear()
        self._to_check.clear()
        self._pending = None
        self._dirty = True

    # Rounds -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            await self._wait()
            self._in_round = True
            try:
                await self._round()
                failures = 0
            except Exception as exc:  # every subscriber learns of it: never a silent hang
                failures += 1
                if db.is_unavailable(exc) or isinstance(exc, asyncpg.PostgresError):
                    log.warning("event feed: a read failed, its streams end", error=repr(exc))
                else:
                    log.exception("event feed: a round failed, its streams end")
                self._fail_all(exc)
            finally:
                self._in_round = False
            if self._cursor is not None:
                joining, self._joining = self._joining, []
                for subscription in joining:
                    self._take_on(subscription)
            if failures:
                await asyncio.sleep(RETRY_SCHEDULE_S[min(failures, len(RETRY_SCHEDULE_S)) - 1])

    def _next_round_in(self) -> float | None:
        if not self._topics and not self._joining:
            return None
        if self._pending is not None:
            tries = min(self._settle_tries, len(SETTLE_RETRY_S) - 1)
            return min(SETTLE_RETRY_S[tries], self._poll_s)
        if self._to_check or self._cursor is None or self._wants_mark():
            return DEBOUNCE_S
        return LISTENING_ROUND_S if self.listening.is_set() else self._poll_s

    async def _wait(self) -> None:
        while True:
            timeout = self._next_round_in()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                if self._pending is None:
                    self._dirty = True  # a look without a notification
                return
            self._wake.clear()
            if self._topics or self._joining:
                await asyncio.sleep(DEBOUNCE_S)  # more notifications fold into this round
                self._wake.clear()
                return

    async def _q(self, statement: Awaitable[T]) -> T:
        self.queries += 1
        return await statement

    async def _round(self) -> None:
        self.rounds += 1
        async with self._pool.acquire() as conn:
            if self._pending is not None:
                last_id, xmax = self._pending
                if await self._q(store.settled(conn, xmax)):
                    self._settle(last_id)
                else:
                    self._settle_tries += 1
            had_events = await self._read(conn)
            self._to_check |= had_events
            await self._check_finished(conn)
            if self._pending is None and self._wants_mark():
                # Taken after the look at the finished ones: it covers their last events.
                self._dirty = False
                last_id, xmax = await self._q(store.take_mark(conn))
                self._marked = last_id
                if await self._q(store.settled(conn, xmax)):
                    self._settle(last_id)
                    self._to_check |= await self._read(conn)
                else:
                    self._pending, self._settle_tries = (last_id, xmax), 0
        self._end_finished()

    def _wants_mark(self) -> bool:
        """Events may have been written since the last mark, or a finished operation's last
        events lie beyond the horizon."""
        beyond = max(self._finishing.values(), default=0) > (self._horizon or 0)
        return self._dirty or beyond

    def _settle(self, last_id: int) -> None:
        self._horizon = max(self._horizon or 0, last_id)
        self._pending = None
        if self._cursor is None:
            self._cursor = self._horizon  # the feed's start: streams read what is before

    async def _read(self, conn: asyncpg.Connection) -> set[uuid.UUID]:
        """Hand out the followed operations' events up to the horizon; those that had some."""
        had_events: set[uuid.UUID] = set()
        if self._cursor is None or self._horizon is None:
            return had_events
        while self._topics and self._horizon > self._cursor:
            rows = await self._q(
                store.feed_events(conn, list(self._topics), self._cursor, self._horizon, FEED_BATCH)
            )
            self.rows_read += len(rows)
            had_events.update(self._fan_out(rows))
            if len(rows) < FEED_BATCH:
                break
            self._cursor = rows[-1].id
        self._cursor = self._horizon
        return had_events

    def _fan_out(self, rows: Iterable[store.EventRow]) -> set[uuid.UUID]:
        by_operation: dict[uuid.UUID, list[store.EventRow]] = {}
        for row in rows:
            by_operation.setdefault(row.operation_id, []).append(row)
        for operation_id, events in by_operation.items():
            topic = self._topics.get(operation_id, set())
            for subscription in [s for s in topic if not s._put(events)]:
                topic.discard(subscription)  # dropped: it catches up on its own
            if not topic:
                self._forget(operation_id)
        return set(by_operation)

    async def _check_finished(self, conn: asyncpg.Connection) -> None:
        """Note which followed operations have finished, with the events' sequence after the
        look: their streams end once the cursor reaches it."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._checked_all_at >= FINISH_CHECK_S:
            self._checked_all_at = loop.time()
            self._to_check |= set(self._topics)
        wanted = [o for o in self._to_check if o in self._topics and o not in self._finishing]
        self._to_check.clear()
        if not wanted:
            return
        finished, last_id = await self._q(store.finished_operations(conn, wanted))
        for operation_id in finished:
            self._finishing[operation_id] = last_id

    def _end_finished(self) -> None:
        cursor = self._cursor
        if cursor is None:
            return
        for operation_id, upto in list(self._finishing.items()):
            if upto <= cursor:
                for subscription in self._topics.get(operation_id, ()):
                    subscription._end()
                self._forget(operation_id)

    # Listening ----------------------------------------------------------------------------------

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            try:
                await self._listen()
                log.warning("event feed: the listening connection was lost, polling meanwhile")
                failures = 1
            except (*db.UNAVAILABLE_ERRORS, asyncpg.PostgresError, OSError) as exc:
                failures += 1
                if failures == 1:
                    log.warning("event feed: not listening, polling meanwhile", error=repr(exc))
            await asyncio.sleep(RETRY_SCHEDULE_S[min(failures, len(RETRY_SCHEDULE_S)) - 1])

    async def _listen(self) -> None:
        """Listen until the connection is lost."""
        conn = await asyncpg.connect(
            self._url, timeout=self._timeout_s, server_settings={"application_name": APPLICATION}
        )
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(CHANNEL, self._notified)
            self.listener_pid = conn.get_server_pid()
            self.listening.set()
            self._notified()  # what was written while nobody listened
            await lost.wait()
        finally:
            self.listening.clear()
            self.listener_pid = None
            self._notified()  # the next round comes after poll_s, not LISTENING_ROUND_S
            conn.terminate()

    def _notified(self, *_: Any) -> None:
        self._dirty = True
        self._wake.set()
