"""The measured account, preloaded with messages, as a template database every benchmark's
stack clones (CREATE DATABASE … TEMPLATE, a file copy): migrated by the service's own
migrations, the account created by the service's own code, then the messages generated inside
PostgreSQL (INSERT … SELECT over generate_series, the real schema's columns).

The data: operations of 100 messages (1,000 at 10 million) spread evenly over the last 6 days
(ids are UUIDv7 of their creation time, as the service makes them, in the day partitions of
messages and events that the workers' maintenance makes), tagged
{campaign: c0..c4, wave: 0..2}; message statuses ~85% DELIVERED, 4% SENT, 3% READ, 3% FAILED
(21211), 2% UNDELIVERED (30003), 3% CANCELED; none due, so no worker picks any up. The triggers
of the schema run (every inserted message gets its event row, as an accepted send would),
except from a million messages on, where triggers are off and the secondary indexes are built
after the load (see `fill`).
Provider attempts are not generated: no figure here reads them. Then VACUUM ANALYZE, as
autovacuum leaves settled rows.

    uv run python bench/preload.py --messages 100000     (prints how long it took; the
    template database bench_preload_100000 stays, for a look at it)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import drop_database, fresh_database, servers
from service.accounts.logic import NewCredentials
from service.devrun import prepare_database
from service.settings import load_settings

DAYS = 6
LOADERS = max(1, os.cpu_count() or 1)
TAGS = 5  # campaign c0..c4: each tag value matches a fifth of the preloaded messages

OPERATIONS_SQL = """
INSERT INTO operations (id, account_sid, status, tags, content, sender, validity_period, total,
                        created_at, updated_at)
SELECT uuidv7(o.created_at - now()), $1, 'COMPLETED',
       jsonb_build_object('campaign', 'c' || (o.i % {tags}), 'wave', (o.i % 3)::text),
       '{{"text": "preloaded"}}', '{{"address": "+15017122661", "channel": "SMS"}}', 36000,
       {size}, o.created_at, o.created_at
FROM (SELECT i, now() - interval '{days} days'
                + interval '{days} days' * i / {operations} - interval '1 hour' AS created_at
      FROM generate_series($2::int, $3::int - 1) AS i) AS o
"""

MESSAGES_SQL = """
INSERT INTO messages (id, operation_id, account_sid, position, channel, address, status, tags,
                      operation_tags, scheduled_for, due_at, error_code, error_message,
                      created_at, updated_at)
SELECT uuidv7(o.created_at - now() + make_interval(secs => j / 1000.0)), o.id, $1, j, 'PHONE',
       '+1555' || lpad((abs(hashint8(h * 31)::bigint) % 2000000)::text, 7, '0'),
       s.status, NULL, o.tags, NULL, NULL,
       CASE s.status WHEN 'FAILED' THEN 21211 WHEN 'UNDELIVERED' THEN 30003 END,
       CASE s.status WHEN 'FAILED' THEN 'Invalid ''To'' Phone Number'
                     WHEN 'UNDELIVERED' THEN 'Unreachable destination handset' END,
       o.created_at, o.created_at
FROM operations o
CROSS JOIN LATERAL generate_series(0, o.total - 1) AS j
CROSS JOIN LATERAL (SELECT abs(hashint8(o.total::bigint * 1000003 + j
                                        + hashtext(o.id::text))::bigint) AS h) AS hashed
CROSS JOIN LATERAL (SELECT CASE
        WHEN h % 100 < 85 THEN 'DELIVERED' WHEN h % 100 < 89 THEN 'SENT'
        WHEN h % 100 < 92 THEN 'READ' WHEN h % 100 < 95 THEN 'FAILED'
        WHEN h % 100 < 97 THEN 'UNDELIVERED' ELSE 'CANCELED' END AS status) AS s
WHERE o.account_sid = $1 AND o.created_at >= $2 AND o.created_at < $3
"""

COUNTERS_SQL = """
INSERT INTO operation_counters (operation_id, slot, scheduled, queued, sent, delivered, read,
                                undelivered, failed, canceled, unaddressable, attempts)
SELECT operation_id, 0,
       count(*) FILTER (WHERE status = 'SCHEDULED'), count(*) FILTER (WHERE status = 'QUEUED'),
       count(*) FILTER (WHERE status = 'SENT'), count(*) FILTER (WHERE status = 'DELIVERED'),
       count(*) FILTER (WHERE status = 'READ'), count(*) FILTER (WHERE status = 'UNDELIVERED'),
       count(*) FILTER (WHERE status = 'FAILED'), count(*) FILTER (WHERE status = 'CANCELED'),
       0, 0
FROM messages WHERE account_sid = $1 GROUP BY operation_id
"""


def operation_size(messages: int) -> int:
    return 1000 if messages >= 1_000_000 else 100


async def _drop_secondary_indexes(conn: asyncpg.Connection) -> list[str]:
    """Drop the indexes of `messages` that back no constraint; their definitions, to build
    them again after the load (one sort each, instead of 10 million insertions each)."""
    rows = await conn.fetch(
        """
        SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
        FROM pg_index i
        WHERE i.indrelid = 'messages'::regclass
          AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """
    )
    for row in rows:
        await conn.execute(f"DROP INDEX {row['name']}")
    # A partitioned table's index is defined `ON ONLY` the parent (no partition's index built):
    # built again `ON` it, each partition gets its own.
    return [row["definition"].replace(" ON ONLY ", " ON ", 1) for row in rows]


async def fill(
    url: str, account_sid: str, messages: int, *, say: bool = True, fast: bool | None = None
) -> None:
    """`messages` messages for the account. From a million on, the fast way: the secondary
    indexes of `messages` are dropped and built again afterwards, and triggers are off
    (session_replication_role = replica), so those messages have no event rows; their
    operations' counter rows are filled from them after the load."""
    size = operation_size(messages)
    operations = max(1, messages // size)
    fast = messages >= 1_000_000 if fast is None else fast
    conn = await asyncpg.connect(url)
    try:
        if fast:
            await conn.execute("SET session_replication_role = replica")
        started = time.monotonic()
        # The days' partitions, as the hourly maintenance would have made them while those
        # messages came in (not the default partition, which a production day never fills).
        await conn.execute(
            "SELECT create_day_partitions((now() AT TIME ZONE 'UTC')::date - $1::int, $1::int)",
            DAYS + 1,
        )
        sql = OPERATIONS_SQL.format(tags=TAGS, size=size, days=DAYS, operations=operations)
        await conn.execute(sql, account_sid, 0, operations)
        # Messages in chunks of operations (by creation time): each chunk is one statement,
        # so the statement-level event trigger sees a bounded transition table.
        bounds = await conn.fetch(
            "SELECT created_at FROM operations WHERE account_sid = $1 ORDER BY created_at",
            account_sid,
        )
        chunk = max(1, min(len(bounds), 500_000 // size))
        edges = [row[0] for row in bounds[::chunk]]
        stop = await conn.fetchval("SELECT max(created_at) + interval '1 second' FROM operations")
        edges.append(stop)
        dropped = await _drop_secondary_indexes(conn) if fast else []
        chunks = list(itertools.pairwise(edges))
        done = 0

        async def load(into: asyncpg.Connection) -> None:
            nonlocal done
            while chunks:
                low, high = chunks.pop(0)
                status = await into.execute(MESSAGES_SQL, account_sid, low, high)
                done += int(status.split()[-1])
                if say:
                    rate = done / (time.monotonic() - started)
                    print(f"  preload: {done:,} of {operations * size:,} messages ({rate:,.0f}/s)")

        # The fast way loads on as many connections as there are cores.
        extra = [await asyncpg.connect(url) for _ in range(LOADERS - 1)] if fast else []
        try:
            for other in extra:
                await other.execute("SET session_replication_role = replica")
            await asyncio.gather(*(load(c) for c in [conn, *extra]))
        finally:
            for other in extra:
                await other.close()
        if dropped:
            built = time.monotonic()
            await conn.execute("SET maintenance_work_mem = '512MB'")
            for definition in dropped:
                await conn.execute(definition)
            if say:
                print(
                    f"  preload: {len(dropped)} indexes rebuilt in {time.monotonic() - built:.0f} s"
                )
        if fast:
            # The counter rows the off triggers would have kept (migrations/0016): what GET
            # operation reads. One row (slot 0) per operation, from its messages.
            await conn.execute(COUNTERS_SQL, account_sid)
        await conn.execute("VACUUM (ANALYZE) operations, messages, events, operation_counters")
        if say:
            print(f"  preload: {done:,} messages in {time.monotonic() - started:.0f} s")
    finally:
        await conn.close()


async def _create(
    admin_url: str, redis_url: str, name: str, messages: int
) -> tuple[NewCredentials, float]:
    url = await fresh_database(admin_url, name)
    settings = load_settings({"DATABASE_URL": url, "REDIS_URL": redis_url})
    _, account = await prepare_database(settings, None)
    started = time.monotonic()
    await fill(url, account.account_sid, messages)
    return account, time.monotonic() - started


def template(messages: int) -> tuple[str, NewCredentials, float]:
    """(template database name, its account's credentials, seconds the fill took)."""
    admin_url, redis_url = servers()
    name = f"bench_preload_{messages}"
    account, seconds = asyncio.run(_create(admin_url, redis_url, name, messages))
    return name, account, seconds


@contextlib.contextmanager
def preloaded(messages: int) -> Iterator[tuple[str, NewCredentials]]:
    """A template of `messages` preloaded messages, dropped afterwards."""
    name, account, _ = template(messages)
    try:
        yield name, account
    finally:
        asyncio.run(drop_database(servers()[0], name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    name, account, seconds = template(args.messages)
    print(f"{name}: account {account.account_sid}, filled in {seconds:.1f} s")


if __name__ == "__main__":
    main()
