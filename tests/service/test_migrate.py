"""The migration runner: an empty database, twice at once, and edits refused; migration 0019
on a database with data."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service import db, ids, migrate
from service.events import store as events_store
from service.messages import logic as messages_logic
from service.retention import logic as retention
from tests.support.servers import Servers, create_database


async def fresh(servers: Servers, suffix: str) -> str:
    return await create_database(servers.admin_url, f"comms_migr_{suffix}_{os.getpid()}")


async def test_applies_every_migration_to_an_empty_database(servers: Servers) -> None:
    url = await fresh(servers, "empty")
    conn = await asyncpg.connect(url)
    try:
        applied = await migrate.apply(conn)
        assert applied == [m.name for m in migrate.discover()]
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {
            "accounts",
            "api_keys",
            "operations",
            "messages",
            "attempts",
            "schema_migrations",
        } <= tables
        assert await migrate.apply(conn) == []
    finally:
        await conn.close()


async def test_two_runners_at_once_apply_each_migration_once(servers: Servers) -> None:
    url = await fresh(servers, "concurrent")
    first, second = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        results = await asyncio.gather(migrate.apply(first), migrate.apply(second))
        names = [m.name for m in migrate.discover()]
        assert sorted(results, key=len) == [[], names]
        count = await first.fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(names)
    finally:
        await first.close()
        await second.close()


async def test_an_edited_migration_is_refused(servers: Servers, tmp_path: Path) -> None:
    url = await fresh(servers, "edited")
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (a int);")
    conn = await asyncpg.connect(url)
    try:
        assert await migrate.apply(conn, tmp_path) == ["0001_first.sql"]
        (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (a bigint);")
        with pytest.raises(migrate.MigrationError):
            await migrate.apply(conn, tmp_path)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_applied(
    servers: Servers, tmp_path: Path
) -> None:
    url = await fresh(servers, "failing")
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok (a int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (a int); SELECT nonsense();")
    conn = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await migrate.apply(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 1
    finally:
        await conn.close()


async def test_a_migration_in_steps_commits_each_step(servers: Servers, tmp_path: Path) -> None:
    url = await fresh(servers, "steps")
    (tmp_path / "0001_steps.sql").write_text(
        "CREATE TABLE first (a int);\n-- migrate:commit\nCREATE TABLE second (a int);\n"
        "SELECT nonsense();\n"
    )
    conn = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await migrate.apply(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('first')") is not None
        assert await conn.fetchval("SELECT to_regclass('second')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 0
    finally:
        await conn.close()


# Migration 0019: messages, attempts and events partitioned by day, on a database with data.

# What later migrations may add to the tables before 0019 runs (a counter kept by a trigger with
# a transition table, a row trigger, an index): 0019 must carry them over to the parent.
BEFORE_0019 = """
CREATE TABLE test_message_counts (operation_id uuid PRIMARY KEY, n integer NOT NULL);
CREATE FUNCTION test_count_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_message_counts
    SELECT operation_id, count(*) FROM new_messages GROUP BY operation_id
    ON CONFLICT (operation_id) DO UPDATE SET n = test_message_counts.n + excluded.n;
    RETURN NULL;
END $$;
CREATE TRIGGER messages_test_count AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION test_count_messages();
CREATE TABLE test_attempt_changes (attempt_id uuid NOT NULL, status text NOT NULL);
CREATE FUNCTION test_note_attempt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_attempt_changes VALUES (NEW.id, NEW.status);
    RETURN NULL;
END $$;
CREATE TRIGGER attempts_test_changes AFTER UPDATE OF status ON attempts
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION test_note_attempt();
CREATE INDEX messages_test_address_idx ON messages (address, id);
"""


def uuid7_at(at: datetime) -> uuid.UUID:
    ms = int(at.timestamp() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 64) & 0xFFF) << 64 | (0b10 << 62)
    return uuid.UUID(int=value | (rand & 0x3FFF_FFFF_FFFF_FFFF))


async def send_at(conn: asyncpg.Connection, account_sid: str, at: datetime) -> uuid.UUID:
    """An operation of `at` with two QUEUED messages (an event each) and a SENT attempt each."""
    operation_id = uuid7_at(at)
    await conn.execute(
        "INSERT INTO operations (id, account_sid, status, content, sender, validity_period,"
        " total, created_at, updated_at)"
        " VALUES ($1, $2, 'PROCESSING', '{}', '{}', 36000, 2, $3, $3)",
        operation_id,
        account_sid,
        at,
    )
    message_ids = [uuid7_at(at + timedelta(milliseconds=i)) for i in range(2)]
    await conn.execute(
        "INSERT INTO messages (id, operation_id, account_sid, position, channel, address,"
        " status, created_at, updated_at)"
        " SELECT m, $2, $3, p::integer, 'PHONE', '+1555000' || p, 'QUEUED', $4, $4"
        " FROM unnest($1::uuid[]) WITH ORDINALITY AS t(m, p)",
        message_ids,
        operation_id,
        account_sid,
        at,
    )
    await conn.execute(
        "INSERT INTO attempts (id, message_id, operation_id, account_sid, channel, from_address,"
        " to_address, status, provider_sid, attempted_at, updated_at)"
        " SELECT $5::uuid, m, $2, $3, 'SMS', '+15017122661', '+15550001', 'SENT',"
        " 'SM' || replace(m::text, '-', ''), $4, $4 FROM unnest($1::uuid[]) AS t(m)",
        message_ids[:1],
        operation_id,
        account_sid,
        at,
        uuid7_at(at),
    )
    return operation_id


def scanned(plan: list[dict[str, Any]]) -> list[str]:
    """The relations a JSON plan reads."""
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Relation Name" in node:
            found.append(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


async def test_0019_partitions_a_database_with_data_in_place(
    servers: Servers, tmp_path: Path
) -> None:
    url = await fresh(servers, "partition")
    for migration in migrate.discover():
        if migration.version < 19:
            (tmp_path / migration.name).write_text(migration.sql)
    conn = await asyncpg.connect(url)
    try:
        await db.init_connection(conn)
        await migrate.apply(conn, tmp_path)
        await conn.execute(BEFORE_0019)
        account = "AC" + "0" * 32
        await conn.execute(
            "INSERT INTO accounts (sid, name, auth_token_hash) VALUES ($1, 'a', '\\x00')", account
        )
        now = datetime.now(UTC)
        operations = [await send_at(conn, account, now - timedelta(days=d)) for d in (3, 2, 1, 0)]
        before = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("messages", "attempts", "events")
        }
        # Events: the operation's own (operation.processing) and one per message.
        assert before == {"messages": 8, "attempts": 4, "events": 12}
        last_event = await conn.fetchval("SELECT max(id) FROM events")
        index_oid = await conn.fetchval("SELECT 'messages_test_address_idx'::regclass::oid")
        pkey_oid = await conn.fetchval("SELECT 'messages_pkey'::regclass::oid")

        # A first run that stopped after its first two steps (they commit on their own): the
        # next run does them again. Writes go on between the steps.
        [partitioning] = [m for m in migrate.discover() if m.version == 19]
        *done, _ = partitioning.steps
        await conn.execute(done[0])
        operations.append(await send_at(conn, account, now))
        for step in done[1:]:
            await conn.execute(step)
        await conn.execute(done[0])
        # One more operation: its event, two message events, two messages and one attempt.
        before = {"messages": 10, "attempts": 5, "events": 15}

        assert await migrate.apply(conn) == [m.name for m in migrate.discover() if m.version >= 19]

        # Every row is where it was: in the legacy partitions, read through the parents.
        for table, count in before.items():
            where = await conn.fetch(
                f"SELECT tableoid::regclass::text AS t, count(*) FROM {table} GROUP BY 1"
            )
            assert [(r["t"], r["count"]) for r in where] == [(f"{table}_legacy", count)]
            kind = await conn.fetchval(
                "SELECT relkind::text FROM pg_class WHERE oid = $1::regclass", table
            )
            assert kind == "p"
        # Indexes were attached, not built again: the legacy partition's are the same ones.
        assert await conn.fetchval("SELECT 'messages_test_address_idx_legacy'::regclass::oid") == (
            index_oid
        )
        assert await conn.fetchval("SELECT 'messages_pkey_legacy'::regclass::oid") == pkey_oid
        parent_index = await conn.fetchval(
            "SELECT relkind::text FROM pg_class WHERE relname = 'messages_test_address_idx'"
        )
        assert parent_index == "I"
        # The triggers defined before 0019 are on the parents now, and only there.
        triggers = await conn.fetch(
            "SELECT tgrelid::regclass::text AS t, tgname FROM pg_trigger"
            " WHERE tgname IN ('messages_test_count', 'attempts_test_changes')"
            " AND tgparentid = 0 ORDER BY tgname"
        )
        assert [(r["t"], r["tgname"]) for r in triggers] == [
            ("attempts", "attempts_test_changes"),
            ("messages", "messages_test_count"),
        ]

        # Reads as the service makes them: a message and its attempts, an operation's events
        # (the event_details view reads the parents), by id through one partition.
        pool = await db.create_pool(url, min_size=1, max_size=2)
        try:
            first = await conn.fetchval(
                "SELECT id FROM messages WHERE operation_id = $1 ORDER BY id LIMIT 1",
                operations[0],
            )
            detail = await messages_logic.get_message(
                pool,
                account_sid=account,
                message_id=ids.encode(ids.MESSAGE, first),
                base_url="http://x.test",
            )
            assert detail.status == "QUEUED"
            assert len(detail.attempts) == 1
            rows = await events_store.operation_events(pool, operations[0], 0, 10**12, 100)
            types = [r.type for r in rows]
            assert types == ["operation.processing", "message.queued", "message.queued"]
            assert rows[1].tries == 1
        finally:
            await pool.close()
        plan = json.loads(
            await conn.fetchval("EXPLAIN (FORMAT JSON) SELECT * FROM messages WHERE id = $1", first)
        )
        assert scanned(plan) == ["messages_legacy"]

        # New rows: those of the day after tomorrow (the first after the legacy partition's
        # range) go to that day's partitions, made by the migration, through the triggers
        # carried over; event ids go on from the old sequence.
        tomorrow = now + timedelta(days=2)
        new = await send_at(conn, account, tomorrow)
        day = tomorrow.strftime("%Y%m%d")
        for table in ("messages", "attempts", "events"):
            where = await conn.fetch(
                f"SELECT DISTINCT tableoid::regclass::text AS t FROM {table}"
                " WHERE operation_id = $1",
                new,
            )
            assert [r["t"] for r in where] == [f"{table}_p{day}"]
        assert await conn.fetchval("SELECT min(id) FROM events WHERE operation_id = $1", new) > (
            last_event
        )
        assert (
            await conn.fetchval("SELECT n FROM test_message_counts WHERE operation_id = $1", new)
            == 2
        )
        await conn.execute("UPDATE attempts SET status = 'DELIVERED' WHERE operation_id = $1", new)
        assert await conn.fetchval("SELECT count(*) FROM test_attempt_changes") == 1
        new_message = await conn.fetchval(
            "SELECT id FROM messages WHERE operation_id = $1 LIMIT 1", new
        )
        plan = json.loads(
            await conn.fetchval(
                "EXPLAIN (FORMAT JSON) SELECT * FROM messages WHERE id = $1", new_message
            )
        )
        assert scanned(plan) == [f"messages_p{day}"]
        # A provider sid is still unique across every attempt, old and new partitions alike.
        taken = await conn.fetchval(
            "SELECT provider_sid FROM attempts WHERE operation_id = $1", operations[0]
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "UPDATE attempts SET provider_sid = $1 WHERE operation_id = $2", taken, new
            )

        # Once its whole range is past retention, the legacy partition goes like a day: here
        # with one of its sends still waiting to go, whose rows alone stay.
        waiting = operations[1]
        await conn.execute(
            "UPDATE messages SET due_at = $1 WHERE operation_id = $2",
            now + timedelta(days=30),
            waiting,
        )
        pool = await db.create_pool(url, min_size=1, max_size=2)
        try:
            await retention.purge(pool, now=now + timedelta(days=9), retention_days=7)
        finally:
            await pool.close()
        left = await conn.fetch("SELECT id FROM operations ORDER BY id")
        assert [r["id"] for r in left] == [waiting, new]
        where = await conn.fetch(
            "SELECT tableoid::regclass::text AS t, count(*) FROM messages GROUP BY 1 ORDER BY 1"
        )
        assert [(r["t"], r["count"]) for r in where] == [
            ("messages_legacy", 2),
            (f"messages_p{day}", 2),
        ]
        bound = await conn.fetchval(
            "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'messages_legacy'"
        )
        assert bound.startswith("FOR VALUES FROM (MINVALUE) TO (")
    finally:
        await conn.close()


async def test_0019_refuses_a_unique_index_it_cannot_keep(servers: Servers, tmp_path: Path) -> None:
    """A unique index without the partition key cannot be unique on the parent: the migration
    stops rather than keep it as a plain index."""
    url = await fresh(servers, "unique")
    for migration in migrate.discover():
        if migration.version < 19:
            (tmp_path / migration.name).write_text(migration.sql)
    conn = await asyncpg.connect(url)
    try:
        await migrate.apply(conn, tmp_path)
        await conn.execute(
            "CREATE UNIQUE INDEX messages_test_key ON messages (operation_id, position)"
        )
        with pytest.raises(asyncpg.RaiseError, match="lacks the partition key"):
            await migrate.apply(conn)
        assert (
            await conn.fetchval("SELECT relkind::text FROM pg_class WHERE relname = 'messages'")
            == "r"
        )
    finally:
        await conn.close()
