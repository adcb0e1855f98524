"""Event rows: the triggers write one per status change, and marks settle only when safe."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import pytest

from schemas.messages import SendMessagesRequest
from service import db, ids
from service.accounts import logic as accounts
from service.events import logic as events
from service.events import store
from service.events.feed import Feed
from service.messages import logic as messages
from service.settings import Settings
from service.webhooks import delivery
from tests.support.factories import endpoint_for_every_event

# The fan-out and the counts here span every account: each test gets a database of its own.
pytestmark = pytest.mark.own_stack

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def request(count: int, **extra: object) -> SendMessagesRequest:
    return msgspec.convert(
        {
            "to": [{"address": f"+1555867531{i}", "channel": "PHONE"} for i in range(count)],
            "content": {"text": "x"},
            "from": {"address": "+15017122661", "channel": "SMS"},
            **extra,
        },
        SendMessagesRequest,
    )


async def types_of(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT type FROM events ORDER BY id")
    return [row["type"] for row in rows]


async def test_one_event_per_status_change(pool: asyncpg.Pool) -> None:
    sid = (await accounts.create_account(pool, "events")).account_sid
    operation_id, _ = await messages.accept_send(pool, account_sid=sid, request=request(3), now=NOW)
    assert await types_of(pool) == ["operation.processing"] + ["message.queued"] * 3

    # Updates that change no status (claims, the sending flag, rendering) write nothing.
    await pool.execute("UPDATE messages SET due_at = now(), sending = true, tags = '{}'")
    await pool.execute("UPDATE operations SET updated_at = now()")
    assert len(await types_of(pool)) == 4

    first = await pool.fetchval("SELECT id FROM messages ORDER BY id LIMIT 1")
    await pool.execute("UPDATE messages SET status = 'SENT' WHERE id = $1", first)
    await pool.execute("UPDATE messages SET status = 'SENT' WHERE id = $1", first)  # again
    await pool.execute(
        "UPDATE messages SET status = 'FAILED', error_code = 30003 WHERE id <> $1", first
    )
    await pool.execute("UPDATE operations SET status = 'COMPLETED' WHERE id = $1", operation_id)
    assert (await types_of(pool))[4:] == [
        "message.sent",
        "message.failed",
        "message.failed",
        "operation.completed",
    ]
    failed = await pool.fetch("SELECT error_code FROM events WHERE type = 'message.failed'")
    assert [r["error_code"] for r in failed] == [30003, 30003]

    scheduled, _ = await messages.accept_send(
        pool,
        account_sid=sid,
        request=request(1, schedule={"sendAt": [(NOW + timedelta(days=1)).isoformat()]}),
        now=NOW,
    )
    await pool.execute("UPDATE messages SET status = 'CANCELED' WHERE operation_id = $1", scheduled)
    rows = await store.operation_events(pool, scheduled, 0, 10**9, 100)
    assert [r.type for r in rows] == ["operation.scheduled"], "no event for SCHEDULED, CANCELED"


async def test_a_mark_settles_once_every_earlier_writer_has_ended(
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    sid = (await accounts.create_account(pool, "marks")).account_sid
    operation_id, _ = await messages.accept_send(pool, account_sid=sid, request=request(2), now=NOW)
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM messages ORDER BY id")]
    slow = await asyncpg.connect(settings.database_url)
    late = await asyncpg.connect(settings.database_url)
    try:
        # A writer takes an event id and has not committed yet; a later one commits first.
        slow_tx = slow.transaction()
        await slow_tx.start()
        await slow.execute("UPDATE messages SET status = 'SENT' WHERE id = $1", ids[0])
        await pool.execute("UPDATE messages SET status = 'SENT' WHERE id = $1", ids[1])
        mark = await events.take_mark(pool)
        assert not await events.is_settled(pool, mark), "the slow writer may still add a row"
        visible = await store.operation_events(pool, operation_id, 0, mark.last_id, 100)
        assert len(visible) == 4, "the committed later event is there, the earlier is not"

        # A writer that starts after the mark does not hold it back.
        late_tx = late.transaction()
        await late_tx.start()
        await late.execute("UPDATE operations SET status = 'COMPLETED' WHERE id = $1", operation_id)
        await slow_tx.commit()
        assert await events.is_settled(pool, mark)
        settled = await store.operation_events(pool, operation_id, 0, mark.last_id, 100)
        assert [r.type for r in settled][3:] == ["message.sent", "message.sent"]
        assert [r.id for r in settled] == sorted(r.id for r in settled)
        await late_tx.rollback()
    finally:
        await slow.close()
        await late.close()


async def test_a_mark_waits_for_the_newest_writer_too(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    sid = (await accounts.create_account(pool, "newest")).account_sid
    operation_id, _ = await messages.accept_send(pool, account_sid=sid, request=request(1), now=NOW)
    writer = await asyncpg.connect(settings.database_url)
    try:
        # The writer has the newest xid and nothing commits after it: the snapshot's xmax (one
        # past the latest completed xid) is then the writer's own xid, and the snapshot does
        # not list it as running. A mark bounded by that xmax settled at once.
        tx = writer.transaction()
        await tx.start()
        await writer.execute(
            "UPDATE messages SET status = 'SENT' WHERE operation_id = $1", operation_id
        )
        written = await writer.fetchval("SELECT max(id) FROM events")
        mark = await events.take_mark(pool)
        assert mark.last_id == written
        assert not await events.is_settled(pool, mark), "the writer may still commit its event"
        await tx.commit()
        assert await events.is_settled(pool, mark)
        rows = await store.operation_events(pool, operation_id, 0, mark.last_id, 100)
        assert [r.type for r in rows][-1] == "message.sent"
    finally:
        await writer.close()


async def test_fanning_out_again_adds_no_deliveries(
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    sid = (await accounts.create_account(pool, "fanout")).account_sid
    await endpoint_for_every_event(pool, sid)
    await messages.accept_send(pool, account_sid=sid, request=request(3), now=NOW)

    async def fan_out() -> int:
        return await delivery.fan_out(
            pool, base_url=settings.public_base_url, now=NOW, retry_window=timedelta(hours=24)
        )

    assert await fan_out() == 4
    assert await fan_out() == 0, "nothing new"
    # As after a crash that lost the cursor's move: the same events again add nothing.
    await pool.execute("UPDATE event_fanout SET cursor = 0, mark_id = NULL, mark_xmax = NULL")
    await fan_out()
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 4
    # Small batches cover the same ground.
    await pool.execute("DELETE FROM webhook_deliveries")
    await pool.execute("UPDATE event_fanout SET cursor = 0, mark_id = NULL, mark_xmax = NULL")
    assert (
        await delivery.fan_out(
            pool,
            base_url=settings.public_base_url,
            now=NOW,
            retry_window=timedelta(hours=24),
            batch_events=1,
        )
        == 4
    )


async def test_an_idle_stream_sends_keepalives_and_holds_no_connection(
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    sid = (await accounts.create_account(pool, "idle")).account_sid
    later = request(1, schedule={"sendAt": [(datetime.now(UTC) + timedelta(days=1)).isoformat()]})
    operation_id, _ = await messages.accept_send(
        pool, account_sid=sid, request=later, now=datetime.now(UTC)
    )
    # The feed reads through a pool of its own here, so `pool` is only the stream's.
    feed_pool = await db.create_pool(settings.database_url, min_size=1, max_size=2)
    feed = Feed(feed_pool, settings.database_url, poll_s=0.5, timeout_s=settings.db_timeout_s)
    feed.start()
    waits: list[int] = []

    def caught_up() -> None:
        # The stream waits for the feed: it holds no connection meanwhile.
        assert pool.get_idle_size() == pool.get_size()
        waits.append(feed.subscribers)

    try:
        stream = await events.open_operation_stream(
            pool,
            feed,
            account_sid=sid,
            operation_id=ids.encode(ids.OPERATION, operation_id),
            last_event_id=None,
            base_url=settings.public_base_url,
            keepalive_s=0.2,
            caught_up=caught_up,
        )
        first = await anext(stream)
        assert first is not None
        assert first.type == "com.twilio.comms-api.operation.scheduled"
        assert await anext(stream) is None, "a keep-alive after keepalive_s of nothing"
        assert waits == [1], "it waited once, subscribed to the feed"
        assert isinstance(stream, AsyncGenerator)
        await stream.aclose()
        assert feed.subscribers == 0, "closing the stream leaves the feed"
    finally:
        await feed.stop()
        await feed_pool.close()
