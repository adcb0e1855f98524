"""bench/preload.py: the preloaded messages are the real schema's rows, of the one account, with
valid ids over several past days, none due; the fast way leaves every index as it was."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from bench import preload
from service import migrate
from service.accounts import logic as accounts
from service.settings import Settings
from tests.support.servers import Servers, create_database, drop_databases
from tests.support.tenants import Tenant


async def test_preloaded_messages_are_the_accounts_and_listed_by_the_api(
    settings: Settings, pool: asyncpg.Pool, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    await preload.fill(settings.database_url, tenant.account_sid, 1_000, say=False)
    rows = await pool.fetch(
        "SELECT id, status, due_at, created_at FROM messages WHERE account_sid = $1",
        tenant.account_sid,
    )
    assert len(rows) == 1_000
    now = datetime.now(UTC)
    for row in rows:
        assert isinstance(row["id"], uuid.UUID)
        assert row["id"].version == 7
        assert row["due_at"] is None
        assert now - timedelta(days=preload.DAYS, hours=2) < row["created_at"] < now
    days = {row["created_at"].date() for row in rows}
    assert len(days) >= preload.DAYS - 1
    statuses = [row["status"] for row in rows]
    assert statuses.count("DELIVERED") > len(rows) // 2
    assert {"FAILED", "UNDELIVERED", "CANCELED"} <= set(statuses)

    listed = await client.get("/v1/Messages", params={"tags": "campaign:c1;", "pageSize": 1000})
    assert listed.status_code == 200
    messages = listed.json()["messages"]
    expected = await pool.fetchval(
        "SELECT count(*) FROM messages WHERE account_sid = $1 "
        "AND operation_tags ->> 'campaign' = 'c1'",
        tenant.account_sid,
    )
    assert len(messages) == expected > 0
    one = await client.get(f"/v1/Messages/{messages[0]['id']}")
    assert one.status_code == 200


INDEXES = "SELECT indexdef FROM pg_indexes WHERE tablename = 'messages' ORDER BY 1"


async def test_the_fast_way_builds_every_index_again(servers: Servers) -> None:
    name = f"comms_preload_{os.getpid()}"
    url = await create_database(servers.admin_url, name)
    try:
        conn = await asyncpg.connect(url)
        try:
            await migrate.apply(conn)
            before = [row[0] for row in await conn.fetch(INDEXES)]
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            account = await accounts.create_account(pool, "preload")
        finally:
            await pool.close()
        await preload.fill(url, account.account_sid, 2_000, say=False, fast=True)
        conn = await asyncpg.connect(url)
        try:
            # Every index again, on the table and on each of its day partitions, all valid.
            assert [row[0] for row in await conn.fetch(INDEXES)] == before
            assert await conn.fetchval("SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0
            partitions = await conn.fetch(
                "SELECT inhrelid::regclass::text FROM pg_inherits"
                " WHERE inhparent = 'messages'::regclass"
            )
            assert len(partitions) > 1
            for (partition,) in partitions:
                built = await conn.fetchval(
                    "SELECT count(*) FROM pg_indexes WHERE tablename = $1", partition
                )
                assert built == len(before), partition
            assert await conn.fetchval("SELECT count(*) FROM messages") == 2_000
            # The counter rows the off triggers would have kept: GET operation's stats.
            counted = await conn.fetchval(
                "SELECT sum(scheduled + queued + sent + delivered + read + undelivered + failed"
                " + canceled) FROM operation_counters"
            )
            assert counted == 2_000
            # Triggers were off for the load: no event rows.
            assert (
                await conn.fetchval("SELECT count(*) FROM events WHERE message_id IS NOT NULL") == 0
            )
        finally:
            await conn.close()
    finally:
        await drop_databases(servers.admin_url, [name])
