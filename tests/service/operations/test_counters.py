"""An operation's counter rows (migrations/0016) against a fresh count of its messages and
attempts: after every kind of write (COPY, worker sends, receipts, cancels, opt-outs, retention,
hand-written statements), and under many concurrent writers."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from service import ids
from service.messages.logic import STAGED_OVER
from service.retention import logic as retention
from service.settings import Settings
from tests.support.api import operation, register_sender, send
from tests.support.factories import StoredMessage, insert_operation
from tests.support.provider import handset_says, unique_number
from tests.support.tenants import Tenant
from tests.support.workers import settle

STATUSES = ("SCHEDULED", "QUEUED", "SENT", "DELIVERED", "READ", "UNDELIVERED", "FAILED", "CANCELED")
COUNTS = (*(s.lower() for s in STATUSES), "unaddressable", "attempts")

FRESH = """
SELECT o.id,
       (SELECT count(*) FROM messages m WHERE m.operation_id = o.id AND m.status = 'SCHEDULED'),
       (SELECT count(*) FROM messages m WHERE m.operation_id = o.id AND m.status = 'QUEUED'),
       (SELECT count(*) FROM messages m WHERE m.operation_id = o.id AND m.status = 'SENT'),
       (SELECT count(*) FROM messages m WHERE m.operation_id = o.id AND m.status = 'DELIVERED'),
       (SELECT count(*) FROM messages m WHERE m.operation_id = o.id AND m.status = 'READ'),
       (SELECT count(*) FROM messages m
        WHERE m.operation_id = o.id AND m.status = 'UNDELIVERED'),
       (SELECT count(*) FROM messages m WHERE m.operation_id = o.id AND m.status = 'FAILED'),
       (SELECT count(*) FROM messages m WHERE m.operation_id = o.id AND m.status = 'CANCELED'),
       (SELECT count(*) FROM messages m
        WHERE m.operation_id = o.id AND m.status = 'FAILED' AND m.error_code = 90020),
       (SELECT count(*) FROM attempts a WHERE a.operation_id = o.id)
FROM operations o WHERE o.id = ANY($1::uuid[])
"""

KEPT = """
SELECT o.id,
       coalesce(sum(c.scheduled), 0), coalesce(sum(c.queued), 0), coalesce(sum(c.sent), 0),
       coalesce(sum(c.delivered), 0), coalesce(sum(c.read), 0),
       coalesce(sum(c.undelivered), 0), coalesce(sum(c.failed), 0),
       coalesce(sum(c.canceled), 0), coalesce(sum(c.unaddressable), 0),
       coalesce(sum(c.attempts), 0)
FROM operations o LEFT JOIN operation_counters c ON c.operation_id = o.id
WHERE o.id = ANY($1::uuid[])
GROUP BY o.id
"""


def key_of(operation_id: str) -> uuid.UUID:
    key = ids.decode(ids.OPERATION, operation_id)
    assert key is not None
    return key


async def counts(
    conn: asyncpg.Pool | asyncpg.Connection, query: str, keys: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    rows = await conn.fetch(query, keys)
    return {row[0]: dict(zip(COUNTS, (int(v) for v in row[1:]), strict=True)) for row in rows}


async def assert_exact(pool: asyncpg.Pool, operation_ids: list[str]) -> dict[uuid.UUID, Any]:
    """The counters of each operation equal a fresh count, in one snapshot; the fresh counts."""
    keys = [key_of(o) for o in operation_ids]
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        fresh = await counts(conn, FRESH, keys)
        kept = await counts(conn, KEPT, keys)
    assert kept == fresh
    return fresh


async def assert_api_agrees(
    client: httpx.AsyncClient, pool: asyncpg.Pool, operation_ids: list[str]
) -> None:
    """What GET …/Operations/{id} and the operations list say equals a fresh count (nothing
    writes meanwhile)."""
    fresh = await assert_exact(pool, operation_ids)
    listed = (await client.get("/v1/Messages/Operations", params={"pageSize": 100})).json()
    by_id = {o["id"]: o for o in listed["operations"]}
    for operation_id in operation_ids:
        expected = fresh[key_of(operation_id)]
        stats = (await operation(client, operation_id))["stats"]
        assert {k: stats[k] for k in COUNTS} == expected, operation_id
        assert sum(stats[s.lower()] for s in STATUSES) == stats["total"]
        assert {k: by_id[operation_id]["stats"][k] for k in COUNTS} == expected


def in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.own_stack
async def test_counters_follow_sends_receipts_cancels_opt_outs_and_retention(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    number, handset = unique_number(), unique_number()
    await register_sender(client, number)
    sender = {"from": {"address": number, "channel": "SMS"}}
    # Delivered, read, no receipt (stays SENT), undelivered, refused by the provider, and
    # unaddressable (no SMS sender reaches a WhatsApp address): FAILED 90020 at accept.
    mixed: list[str | dict[str, Any]] = [
        *(unique_number() for _ in range(6)),
        "+15005550015",
        "+15005550016",
        "+15005550010",
        "+15005550001",
        {"address": "+15558675410", "channel": "WHATSAPP"},
        {"address": "+15558675411", "channel": "WHATSAPP"},
    ]
    sent = await send(client, mixed, **sender)
    # One COPY of many rows (as many as a send stores at once, not staged), left scheduled;
    # then canceled.
    many = await send(
        client,
        [f"+1555{n:07d}" for n in range(STAGED_OVER)],
        schedule={"sendAt": [in_an_hour()]},
    )
    # Scheduled to the handset and another: its STOP cancels one of them.
    other = unique_number()
    waiting = await send(client, [handset, other], **sender, schedule={"sendAt": [in_an_hour()]})
    everything = [sent, many, waiting]
    await assert_api_agrees(client, pool, everything)

    await settle(sandbox, settings)
    await assert_api_agrees(client, pool, everything)
    stats = (await operation(client, sent))["stats"]
    assert (stats["unaddressable"], stats["attempts"]) == (2, 10)
    assert (stats["read"], stats["undelivered"], stats["sent"]) == (1, 1, 1)

    assert (await client.post(f"/v1/Messages/Operations/{many}/Cancel")).status_code == 202
    await handset_says(sandbox, handset, number, "STOP")
    await assert_api_agrees(client, pool, everything)
    assert (await operation(client, many))["stats"]["canceled"] == STAGED_OVER
    assert (await operation(client, waiting))["stats"]["canceled"] == 1

    # Retention takes every operation with nothing left to send, and their counter rows.
    await retention.purge(pool, now=datetime.now(UTC) + timedelta(days=30), retention_days=7)
    gone = [key_of(sent), key_of(many)]
    assert await pool.fetchval("SELECT count(*) FROM operations WHERE id = ANY($1)", gone) == 0
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM operation_counters WHERE operation_id = ANY($1)", gone
        )
        == 0
    )
    await assert_api_agrees(client, pool, [waiting])


async def test_hand_written_statements_keep_the_counters_exact(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    now = datetime.now(UTC)
    first = await insert_operation(
        pool,
        tenant.account_sid,
        [
            *(StoredMessage("PHONE", f"+1555000{n:04d}", "QUEUED") for n in range(300)),
            *(StoredMessage("PHONE", f"+1555100{n:04d}", "FAILED", 90020, "x") for n in range(7)),
            StoredMessage("PHONE", "+15552000000", "FAILED", 21211, "invalid To"),
        ],
        now=now,
    )
    second = await insert_operation(
        pool,
        tenant.account_sid,
        [StoredMessage("PHONE", f"+1555300{n:04d}", "SCHEDULED") for n in range(50)],
        now=now,
    )
    both = [first, second]
    keys = [key_of(o) for o in both]
    assert (await assert_exact(pool, both))[keys[0]]["unaddressable"] == 7

    # One statement over both operations; one that changes no status writes nothing.
    await pool.execute(
        "UPDATE messages SET status = 'SENT' WHERE operation_id = ANY($1) AND status <> 'FAILED'",
        keys,
    )
    await assert_exact(pool, both)
    rows = "SELECT * FROM operation_counters WHERE operation_id = ANY($1) ORDER BY 1, 2"
    before = await pool.fetch(rows, keys)
    await pool.execute("UPDATE messages SET updated_at = now() WHERE operation_id = ANY($1)", keys)
    after = await pool.fetch(rows, keys)
    assert [tuple(r) for r in after] == [tuple(r) for r in before]

    # The error code alone moves a FAILED message in or out of the unaddressable count.
    await pool.execute(
        "UPDATE messages SET error_code = 30008 WHERE operation_id = $1 AND error_code = 90020"
        " AND address < '+15551000003'",
        keys[0],
    )
    assert (await assert_exact(pool, both))[keys[0]]["unaddressable"] == 4

    # Attempts in and out; a rolled-back savepoint leaves nothing behind.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO attempts (id, message_id, operation_id, account_sid, channel,"
            " from_address, to_address, status, attempted_at, updated_at)"
            " SELECT uuidv7(), id, operation_id, account_sid, 'SMS', '+15017122661', address,"
            " 'SENT', now(), now() FROM messages WHERE operation_id = ANY($1)",
            keys,
        )
        savepoint = conn.transaction()
        await savepoint.start()
        await conn.execute(
            "UPDATE messages SET status = 'DELIVERED' WHERE operation_id = $1", keys[1]
        )
        await conn.execute("DELETE FROM attempts WHERE operation_id = $1", keys[1])
        await savepoint.rollback()
        await conn.execute(
            "UPDATE messages SET status = 'READ' WHERE operation_id = $1 AND status = 'SENT'"
            " AND address > '+15550000150'",
            keys[0],
        )
    fresh = await assert_exact(pool, both)
    assert (fresh[keys[1]]["attempts"], fresh[keys[1]]["sent"]) == (50, 50)

    # A transaction that is rolled back leaves nothing either.
    async with pool.acquire() as conn:
        rolled_back = conn.transaction()
        await rolled_back.start()
        await conn.execute("DELETE FROM messages WHERE operation_id = $1", keys[0])
        await rolled_back.rollback()
    await assert_exact(pool, both)

    await pool.execute("DELETE FROM attempts WHERE operation_id = $1", keys[0])
    await pool.execute("DELETE FROM messages WHERE operation_id = $1", keys[0])
    assert (await assert_exact(pool, both))[keys[0]] == dict.fromkeys(COUNTS, 0)
    await pool.execute("DELETE FROM operations WHERE id = $1", keys[0])
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM operation_counters WHERE operation_id = $1", keys[0]
        )
        == 0
    )


@pytest.mark.parametrize("writers", [12, 48])
async def test_concurrent_writers_never_deadlock_and_the_totals_are_exact(
    pool: asyncpg.Pool, tenant: Tenant, settings: Settings, writers: int
) -> None:
    """Each writer owns its own messages of two operations and changes their statuses in
    several transactions: one operation, the other, then both, in a random order. 48 writers
    are more than the 32 slots: some wait for one. (Slots taken by backend only, without a
    claim, deadlock here: two writers on one slot lock its two rows in opposite orders.)"""
    per_writer = 20
    now = datetime.now(UTC)
    operation_ids = [
        await insert_operation(
            pool,
            tenant.account_sid,
            [
                StoredMessage("PHONE", f"+1555{n:07d}", "QUEUED")
                for n in range(writers * per_writer)
            ],
            now=now,
        )
        for _ in range(2)
    ]
    keys = [key_of(o) for o in operation_ids]
    rows = await pool.fetch(
        "SELECT operation_id, id FROM messages WHERE operation_id = ANY($1) ORDER BY id", keys
    )
    # owned[n][k]: writer n's messages of operation k.
    owned = [
        [
            [r["id"] for r in rows if r["operation_id"] == key][
                n * per_writer : (n + 1) * per_writer
            ]
            for key in keys
        ]
        for n in range(writers)
    ]
    start = asyncio.Event()

    async def writer(n: int) -> None:
        chance = random.Random(n)
        conn = await asyncpg.connect(settings.database_url)
        try:
            await start.wait()
            for _ in range(4):
                async with conn.transaction():
                    # One operation, the other, then both in one statement: in either order.
                    first, second = chance.sample(owned[n], 2)
                    for some in (first, second, first + second):
                        await conn.execute(
                            "UPDATE messages SET status = $2 WHERE id = ANY($1)",
                            chance.sample(some, len(some) // 2),
                            chance.choice(STATUSES),
                        )
        finally:
            await conn.close()

    tasks = [asyncio.create_task(writer(n)) for n in range(writers)]
    start.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    fresh = await assert_exact(pool, operation_ids)
    for key in keys:
        assert sum(fresh[key][s.lower()] for s in STATUSES) == writers * per_writer
