"""The event feed (service/events/feed.py): every SSE stream of an API process follows one
reader of new events. Many streams each get exactly their operation's events; what the feed
reads does not grow with them; Last-Event-ID resumes across the switch from a stream's own
catch-up to the feed; a lost listening connection loses nothing; a slow stream catches up."""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from sandbox.serving import serve_asgi
from schemas.events import CloudEvent
from schemas.messages import SendMessagesRequest
from service import devstack, ids
from service.app import create_app
from service.events import feed as feeds
from service.events import logic as events
from service.events.feed import Feed
from service.messages import logic as messages
from service.settings import Settings
from service.state import AppState
from tests.support.tenants import Tenant, new_tenant

# The feed's listening connection and the statement counts are the test's own API's.
pytestmark = pytest.mark.own_stack

DEADLINE_S = 60.0


async def until(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Wait for a condition, failing after DEADLINE_S (never a timing assertion)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def api_with_feed(settings: Settings) -> AsyncIterator[tuple[str, Feed]]:
    """An API process of the test's own on its database, and that process's feed."""
    app = create_app(settings)
    async with serve_asgi(app) as url:
        state: AppState = app.state.comms
        yield url, state.feed


def send_request(count: int) -> SendMessagesRequest:
    return msgspec.convert(
        {
            "to": [{"address": f"+1555{i:07d}", "channel": "PHONE"} for i in range(count)],
            "content": {"text": "x"},
            "from": {"address": "+15017122661", "channel": "SMS"},
        },
        SendMessagesRequest,
    )


async def new_operation(pool: asyncpg.Pool, tenant: Tenant, recipients: int) -> uuid.UUID:
    """A send accepted now: its operation.processing and a message.queued per recipient."""
    request = send_request(recipients)
    now = datetime.now(UTC)
    key, _ = await messages.accept_send(
        pool, account_sid=tenant.account_sid, request=request, now=now
    )
    return key


async def event_ids(pool: asyncpg.Pool, operation: uuid.UUID, after: int = 0) -> list[int]:
    rows = await pool.fetch(
        "SELECT id FROM events WHERE operation_id = $1 AND id > $2 ORDER BY id", operation, after
    )
    return [row["id"] for row in rows]


async def set_status(pool: asyncpg.Pool, operations: list[uuid.UUID], status: str) -> None:
    """Every message of the operations to `status`, in one transaction (an event each)."""
    await pool.execute(
        "UPDATE messages SET status = $2, updated_at = now() WHERE operation_id = ANY($1)",
        operations,
        status,
    )


async def complete(pool: asyncpg.Pool, operations: list[uuid.UUID]) -> None:
    await pool.execute(
        "UPDATE operations SET status = 'COMPLETED', updated_at = now() WHERE id = ANY($1)",
        operations,
    )


@dataclass
class Reader:
    """One SSE stream read to its end: the events' ids and bodies."""

    ids: list[int] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    open: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(
        self,
        http: httpx.AsyncClient,
        operation: uuid.UUID,
        last_event_id: int | None = None,
        stop_after: int | None = None,
    ) -> None:
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        path = f"/v1/Messages/Operations/{ids.encode(ids.OPERATION, operation)}/Events"
        async with http.stream("GET", path, headers=headers) as response:
            assert response.status_code == 200
            self.open.set()
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    self.ids.append(int(line[4:]))
                elif line.startswith("data: ") and line[6:].strip():  # not a keep-alive's
                    self.bodies.append(json.loads(line[6:]))
                    if stop_after is not None and len(self.bodies) >= stop_after:
                        return


def client(url: str, tenant: Tenant) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url,
        auth=tenant.auth,
        timeout=DEADLINE_S,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
    )


async def test_many_streams_get_their_events_and_the_feed_reads_each_once(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    tenants = [await new_tenant(pool, "feed-a"), await new_tenant(pool, "feed-b")]
    owned = [(tenants[n % 2], await new_operation(pool, tenants[n % 2], 5)) for n in range(6)]
    operations = [operation for _, operation in owned]
    listeners = 200
    async with api_with_feed(settings) as (url, feed):
        https = {t.account_sid: client(url, t) for t in tenants}
        try:
            readers = [Reader() for _ in range(listeners)]
            tasks: list[asyncio.Task[None]] = []
            # Opened a wave at a time (opening is not what is measured here: 200 requests at
            # once in one test process could outwait the pool's timeout on a busy machine).
            for n, reader in enumerate(readers):
                tenant, operation = owned[n % 6]
                tasks.append(asyncio.create_task(reader.read(https[tenant.account_sid], operation)))
                if len(tasks) % 25 == 0:
                    await until(lambda: feed.subscribers == len(tasks), "a wave to subscribe")
            # Every stream subscribed and has the events written so far (its own catch-up).
            await until(lambda: all(len(r.ids) == 6 for r in readers), "the first events")
            queries, rounds = feed.queries, feed.rounds
            read, caught_up = feed.rows_read, feed.catch_up_queries

            await set_status(pool, operations, "SENT")
            await set_status(pool, operations, "DELIVERED")
            await complete(pool, operations)
            await asyncio.wait_for(asyncio.gather(*tasks), DEADLINE_S)
        finally:
            for http in https.values():
                await http.aclose()

        live_events = 6 * (5 + 5 + 1)
        assert feed.rows_read - read == live_events, "each event read once, for 200 streams"
        assert feed.catch_up_queries == caught_up, "no stream read on its own once subscribed"
        statements = feed.queries - queries
        assert statements <= 6 * (feed.rounds - rounds), "a round is a handful of statements"
        assert statements < listeners, "fewer statements in all than there are listeners"
        assert feed.subscribers == 0

    for n, reader in enumerate(readers):
        tenant, operation = owned[n % 6]
        assert reader.ids == await event_ids(pool, operation), "all, in order, once"
        assert [int(b["id"]) for b in reader.bodies] == reader.ids
        assert {b["data"]["operation_id"] for b in reader.bodies} == {
            ids.encode(ids.OPERATION, operation)
        }
        kinds = [b["type"].removeprefix("com.twilio.comms-api.") for b in reader.bodies]
        assert kinds[-1] == "operation.completed"
        owner = await pool.fetchval("SELECT account_sid FROM operations WHERE id = $1", operation)
        assert owner == tenant.account_sid, "only its own account's operation"


async def test_last_event_id_resumes_across_the_catch_up_and_the_feed(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    tenant = await new_tenant(pool, "resume")
    followed = await new_operation(pool, tenant, 4)
    other = await new_operation(pool, tenant, 1)  # keeps the feed's cursor moving
    async with api_with_feed(settings) as (url, feed), client(url, tenant) as http:
        first = Reader()
        await first.read(http, followed, stop_after=3)  # then the client goes away
        assert first.ids == (await event_ids(pool, followed))[:3]
        await until(lambda: feed.subscribers == 0, "the first stream to leave the feed")

        keeper = Reader()
        keeping = asyncio.create_task(keeper.read(http, other))
        await until(lambda: feed.subscribers == 1, "the other stream to subscribe")
        # Written while nobody follows the operation: the feed goes past them.
        await set_status(pool, [followed], "SENT")
        written = max(await event_ids(pool, followed))
        await until(lambda: (feed.cursor or 0) >= written, "the feed's cursor to pass them")

        caught_up = feed.catch_up_queries
        resumed = Reader()
        resuming = asyncio.create_task(resumed.read(http, followed, last_event_id=first.ids[-1]))
        await until(lambda: feed.subscribers == 2, "the resumed stream to subscribe")
        await until(lambda: len(resumed.ids) == 1 + 4 + 4 - 3, "the events written meanwhile")
        assert feed.catch_up_queries > caught_up, "it read what came before it joined itself"
        # And what comes now, from the feed.
        await set_status(pool, [followed, other], "DELIVERED")
        await complete(pool, [followed, other])
        await asyncio.wait_for(asyncio.gather(resuming, keeping), DEADLINE_S)

    assert resumed.ids == await event_ids(pool, followed, after=first.ids[-1])
    assert keeper.ids == await event_ids(pool, other)
    # A Last-Event-ID past everything: nothing again, and the stream ends.
    async with api_with_feed(settings) as (url, feed), client(url, tenant) as http:
        last = Reader()
        await asyncio.wait_for(last.read(http, followed, last_event_id=resumed.ids[-1]), 30)
        assert last.ids == []


async def test_streams_keep_receiving_when_the_listening_connection_is_killed(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    tenant = await new_tenant(pool, "listen")
    operation = await new_operation(pool, tenant, 3)
    async with api_with_feed(settings) as (url, feed), client(url, tenant) as http:
        await until(feed.listening.is_set, "the feed to listen")
        reader = Reader()
        reading = asyncio.create_task(reader.read(http, operation))
        await until(lambda: len(reader.ids) == 4, "the first events")
        killed = feed.listener_pid
        application = await pool.fetchval(
            "SELECT application_name FROM pg_stat_activity WHERE pid = $1", killed
        )
        assert application == feeds.APPLICATION
        assert await pool.fetchval("SELECT pg_terminate_backend($1)", killed)
        await until(lambda: not feed.listening.is_set(), "the feed to notice")

        # Events still come: polled until the feed listens again, or notified after.
        await set_status(pool, [operation], "SENT")
        await until(lambda: len(reader.ids) == 7, "the events written after the kill")

        await until(
            lambda: feed.listening.is_set() and feed.listener_pid not in (None, killed),
            "the feed to listen again on a new connection",
        )
        await set_status(pool, [operation], "DELIVERED")
        await complete(pool, [operation])
        await asyncio.wait_for(reading, DEADLINE_S)
    assert reader.ids == await event_ids(pool, operation)


async def test_a_stream_that_falls_behind_catches_up_from_the_database(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    tenant = await new_tenant(pool, "slow")
    recipients = feeds.BUFFER_ROWS  # SENT and DELIVERED: twice what a buffer holds
    operation = await new_operation(pool, tenant, recipients)
    feed = Feed(pool, settings.database_url, poll_s=0.5, timeout_s=settings.db_timeout_s)
    feed.start()
    try:
        stream = await events.open_operation_stream(
            pool,
            feed,
            account_sid=tenant.account_sid,
            operation_id=ids.encode(ids.OPERATION, operation),
            last_event_id=None,
            base_url=settings.public_base_url,
        )
        received: list[int] = []
        first = await anext(stream)
        assert first is not None
        received.append(int(first.id))
        await until(lambda: feed.subscribers == 1, "the stream to subscribe")
        # The stream's reader does not read while all this is written.
        await set_status(pool, [operation], "SENT")
        await set_status(pool, [operation], "DELIVERED")
        await until(lambda: feed.subscribers == 0, "the feed to drop the stream")
        caught_up = feed.catch_up_queries
        await complete(pool, [operation])
        async for event in stream:
            if event is not None:
                received.append(int(event.id))
        assert feed.catch_up_queries > caught_up, "it caught up from the database"
        assert received == await event_ids(pool, operation), "nothing lost, nothing twice"
    finally:
        await feed.stop()


async def test_events_of_a_writer_still_running_when_the_feed_marks_are_not_skipped(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    tenant = await new_tenant(pool, "running")
    operation = await new_operation(pool, tenant, 1)
    # Polling: it takes a mark every round, with no notification (no commit) to prompt it.
    nowhere = f"postgresql://postgres@127.0.0.1:{devstack.free_port()}/nothing"
    feed = Feed(pool, nowhere, poll_s=0.1, timeout_s=settings.db_timeout_s)
    feed.start()
    writer = await asyncpg.connect(settings.database_url)
    try:
        stream = await events.open_operation_stream(
            pool,
            feed,
            account_sid=tenant.account_sid,
            operation_id=ids.encode(ids.OPERATION, operation),
            last_event_id=None,
            base_url=settings.public_base_url,
        )
        received: list[int] = []

        async def read() -> None:
            async for event in stream:
                if event is not None:
                    received.append(int(event.id))

        reading = asyncio.create_task(read())
        await until(lambda: len(received) == 2 and feed.subscribers == 1, "the first events")
        # The writer takes an event id and stays open, and nothing commits after it: its xid
        # is not below the snapshot's xmax (one past the latest completed xid), and no snapshot
        # lists it as running. The feed marks past its event meanwhile.
        transaction = writer.transaction()
        await transaction.start()
        await writer.execute(
            "UPDATE messages SET status = 'SENT' WHERE operation_id = $1", operation
        )
        written = await writer.fetchval("SELECT max(id) FROM events")
        await until(lambda: feed.marked >= written, "a mark past the running writer's event")
        await transaction.commit()

        await set_status(pool, [operation], "DELIVERED")
        await complete(pool, [operation])
        await asyncio.wait_for(reading, DEADLINE_S)
        assert received == await event_ids(pool, operation), "the SENT event too"
    finally:
        await writer.close()
        await feed.stop()


async def test_a_feed_that_cannot_listen_polls(pool: asyncpg.Pool, settings: Settings) -> None:
    tenant = await new_tenant(pool, "deaf")
    operation = await new_operation(pool, tenant, 2)
    # Its listening connection goes to a port where nothing answers; its reads use the pool.
    nowhere = f"postgresql://postgres@127.0.0.1:{devstack.free_port()}/nothing"
    feed = Feed(pool, nowhere, poll_s=0.2, timeout_s=settings.db_timeout_s)
    feed.start()
    try:
        stream = await events.open_operation_stream(
            pool,
            feed,
            account_sid=tenant.account_sid,
            operation_id=ids.encode(ids.OPERATION, operation),
            last_event_id=None,
            base_url=settings.public_base_url,
        )
        received = [event.id async for event in until_end(stream, feed, operation, pool)]
        assert not feed.listening.is_set()
        assert [int(i) for i in received] == await event_ids(pool, operation)
    finally:
        await feed.stop()


async def until_end(
    stream: AsyncIterator[CloudEvent | None],
    feed: Feed,
    operation: uuid.UUID,
    pool: asyncpg.Pool,
) -> AsyncIterator[CloudEvent]:
    """The stream's events; once the first ones are in and it has subscribed, the rest of the
    operation is written (SENT, DELIVERED, COMPLETED, a transaction each)."""
    writes = [
        functools.partial(set_status, pool, [operation], "SENT"),
        functools.partial(set_status, pool, [operation], "DELIVERED"),
        functools.partial(complete, pool, [operation]),
    ]
    async for event in stream:
        if event is None:
            continue
        yield event
        if writes and feed.subscribers == 1:
            await writes.pop(0)()
