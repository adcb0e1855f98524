"""Are the list endpoints' queries served by indexes at a realistic size? EXPLAIN says.

Fills a throwaway database with ~1,000,000 messages (generate_series, in SQL), ANALYZEs it, and
runs EXPLAIN (ANALYZE) on the named queries of the list endpoints exactly as the service runs
them (same SQL text, values bound, planned per call) for every documented filter and many
combinations; prints each plan's summary and fails if any plan reads `messages` with a Seq Scan.

    uv run python bench/explain_lists.py [--messages 1000000] [--fresh-send 10000] [--verbose]
        [--keep]

PostgreSQL comes from DATABASE_URL (an admin URL: the database is created beside it), else an
embedded server is started under .devdata/bench-lists and stopped at the end.

The data: 20 accounts, one holding ~60% of everything; ~20,000 operations over 7 days (1% of
them 2,500 messages, the rest 26); recipients among 200,000 addresses; statuses ~85% DELIVERED,
4% SENT, 3% FAILED, 2% UNDELIVERED, 2% QUEUED, 2% SCHEDULED, 1% READ, 1% CANCELED; channels 90%
PHONE, 9% WHATSAPP, 1% CONVERSATIONS; tags {campaign: c0..c49, wave: 0..2}, 1% of operations
tagged campaign:rare, 1% with a Liquid tag rendered per message (name: n0..n999), the oldest
(a big one) campaign:first; an attempt with a provider SID for every 10th message. Every message
of an operation has its operation's created_at, as an accept stamps them.

Then, as a send just accepted (`--fresh-send`, 10,000 messages sharing one created_at, stored
after the ANALYZE with autovacuum off, so the statistics know nothing of it), the lists of that
send are EXPLAINed again: the plans must not depend on fresh statistics.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service import db, devstack, migrate
from service.messages import store as messages_store
from service.operations import store as operations_store
from service.pagination import Position

ROOT = Path(__file__).resolve().parent.parent
DEV_ROOT = ROOT / ".devdata" / "bench-lists"
DATABASE = "comms_bench_lists"

BIG_OPERATION = 2_500
SMALL_OPERATION = 26

FILL_SQL = """
-- Operations: {operations} of them over the last 7 days, newest last; 1% are big campaigns.
CREATE TEMP TABLE bench_ops AS
SELECT i,
       CASE WHEN i % 100 = 0 THEN {big} ELSE {small} END AS size,
       CASE WHEN abs(hashint4(i)::bigint) % 10 < 6 THEN 0
            ELSE 1 + abs(hashint4(i * 3)::bigint) % 19 END AS account,
       now() - interval '7 days' + (interval '7 days' * i / {operations}) AS created_at
FROM generate_series(0, {operations} - 1) AS i;
ALTER TABLE bench_ops ADD COLUMN id uuid, ADD COLUMN tags jsonb, ADD COLUMN liquid boolean;
UPDATE bench_ops SET
    id = uuidv7(created_at - now()),
    liquid = i % 100 = 7,
    tags = CASE
        WHEN i = 0 THEN jsonb_build_object('campaign', 'first', 'wave', '0')
        WHEN i % 100 = 3 THEN jsonb_build_object('campaign', 'rare', 'wave', (i % 3)::text)
        WHEN i % 100 = 7
            THEN jsonb_build_object('campaign', 'c' || (i % 50), 'name', '{{{{ name }}}}')
        ELSE jsonb_build_object('campaign', 'c' || (i % 50), 'wave', (i % 3)::text)
    END;

INSERT INTO accounts (sid, name, auth_token_hash)
SELECT 'AC' || md5('bench' || a), 'bench ' || a, sha256(a::text::bytea)
FROM generate_series(0, 19) AS a;

INSERT INTO operations (id, account_sid, status, tags, content, sender, validity_period, total,
                        created_at, updated_at)
SELECT id, 'AC' || md5('bench' || account),
       CASE WHEN created_at > now() - interval '10 minutes' THEN 'PROCESSING'
            WHEN i % 50 = 1 THEN 'CANCELED'
            WHEN i % 50 = 2 THEN 'SCHEDULED'
            ELSE 'COMPLETED' END,
       tags, '{{"text": "hi"}}', '{{"address": "+15017122661", "channel": "SMS"}}', 36000, size,
       created_at, created_at
FROM bench_ops;

INSERT INTO messages (id, operation_id, account_sid, position, channel, address, status, tags,
                      operation_tags, scheduled_for, due_at, error_code, error_message,
                      created_at, updated_at)
SELECT uuidv7(o.created_at - now()), o.id, 'AC' || md5('bench' || o.account), j,
       CASE WHEN h % 100 < 90 THEN 'PHONE' WHEN h % 100 < 99 THEN 'WHATSAPP'
            ELSE 'CONVERSATIONS' END,
       '+1555' || lpad((abs(hashint8(h * 31)::bigint) % 200000)::text, 7, '0'),
       s.status,
       CASE WHEN o.liquid THEN jsonb_build_object('campaign', o.tags ->> 'campaign',
                                                  'name', 'n' || (j % 1000)) END,
       o.tags,
       NULL,
       CASE WHEN s.status IN ('QUEUED', 'SCHEDULED') THEN o.created_at END,
       CASE s.status WHEN 'FAILED' THEN 21211 WHEN 'UNDELIVERED' THEN 30003 + (h % 3) END,
       CASE WHEN s.status IN ('FAILED', 'UNDELIVERED') THEN 'bench error' END,
       o.created_at, o.created_at
FROM bench_ops o
CROSS JOIN LATERAL generate_series(0, o.size - 1) AS j
CROSS JOIN LATERAL (SELECT abs(hashint8((o.i::bigint << 20) + j)::bigint) AS h) AS hashed
CROSS JOIN LATERAL (SELECT CASE
        WHEN h % 1000 < 850 THEN 'DELIVERED' WHEN h % 1000 < 890 THEN 'SENT'
        WHEN h % 1000 < 920 THEN 'FAILED' WHEN h % 1000 < 940 THEN 'UNDELIVERED'
        WHEN h % 1000 < 960 THEN 'QUEUED' WHEN h % 1000 < 980 THEN 'SCHEDULED'
        WHEN h % 1000 < 990 THEN 'READ' ELSE 'CANCELED' END AS status) AS s;

INSERT INTO attempts (id, message_id, operation_id, account_sid, channel, from_address,
                      to_address, status, provider_sid, attempted_at, updated_at)
SELECT uuidv7(), id, operation_id, account_sid, 'SMS', '+15017122661', address, 'DELIVERED',
       'SM' || md5(id::text), created_at, created_at
FROM messages
WHERE status NOT IN ('QUEUED', 'SCHEDULED', 'CANCELED')
  AND abs(hashtext(id::text)::bigint) % 10 = 0;
"""


FRESH_SEND_SQL = """
INSERT INTO operations (id, account_sid, status, tags, content, sender, validity_period, total,
                        created_at, updated_at)
VALUES ($1::uuid, $2::text, 'PROCESSING', '{"campaign": "fresh"}', '{"text": "hi"}',
        '{"address": "+15017122661", "channel": "SMS"}', 36000, $3::int, $4::timestamptz,
        $4::timestamptz);
INSERT INTO messages (id, operation_id, account_sid, position, channel, address, status,
                      operation_tags, due_at, created_at, updated_at)
SELECT uuidv7(), $1::uuid, $2::text, j, 'PHONE', '+1556' || lpad(j::text, 7, '0'),
       CASE WHEN j % 10 = 0 THEN 'FAILED' ELSE 'QUEUED' END, '{"campaign": "fresh"}',
       CASE WHEN j % 10 <> 0 THEN $4::timestamptz END, $4::timestamptz, $4::timestamptz
FROM generate_series(0, $3::int - 1) AS j;
"""


async def fresh_send(conn: asyncpg.Connection, account: str, size: int) -> uuid.UUID:
    """A send of `size` messages just accepted (one created_at), unknown to the statistics."""
    # Storage parameters are set per partition: a partitioned table has none of its own.
    tables = await conn.fetchval(
        "SELECT array_agg(inhrelid::regclass::text) FROM pg_inherits"
        " WHERE inhparent = 'messages'::regclass"
    )
    for table in [*(tables or []), "operations"]:
        await conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    operation_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with conn.transaction():
        for statement in _statements(FRESH_SEND_SQL):
            await conn.execute(statement, operation_id, account, size, now)
    return operation_id


async def fresh_cases(
    conn: asyncpg.Connection, account: str, operation_id: uuid.UUID
) -> list[Case]:
    """The fresh send's lists: page 1 and the last pages (deep in its one created_at)."""
    row = await conn.fetchrow(
        "SELECT created_at, id FROM messages WHERE operation_id = $1 "
        "ORDER BY created_at DESC, id DESC OFFSET 9950 LIMIT 1",
        operation_id,
    )
    deep = (row[0], row[1]) if row else None
    return [
        message_case("fresh send: operationId", account, operation_id=operation_id),
        message_case(
            "fresh send: operationId, page 200", account, operation_id=operation_id, after=deep
        ),
        message_case(
            "fresh send: operationId+status", account, operation_id=operation_id, status="FAILED"
        ),
        message_case("fresh send: status QUEUED", account, status="QUEUED"),
        message_case("fresh send: status QUEUED, page 200", account, status="QUEUED", after=deep),
        message_case("fresh send: tags", account, tags={"campaign": "fresh"}),
        message_case("fresh send: tags, page 200", account, tags={"campaign": "fresh"}, after=deep),
        message_case("fresh send: no filter", account),
        message_case("fresh send: no filter, page 200", account, after=deep),
    ]


def _operations_for(total_messages: int) -> int:
    per_hundred = BIG_OPERATION + 99 * SMALL_OPERATION
    return max(100, round(total_messages * 100 / per_hundred))


async def fill(conn: asyncpg.Connection, messages: int) -> None:
    """The data set described above, about `messages` messages, then ANALYZE."""
    script = FILL_SQL.format(
        operations=_operations_for(messages), big=BIG_OPERATION, small=SMALL_OPERATION
    )
    for statement in _statements(script):
        await conn.execute(statement)
    await conn.execute("ANALYZE accounts, operations, messages, attempts")


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip()]


# The cases ---------------------------------------------------------------------------------


@dataclass
class Sample:
    """Real values from the filled database to filter by."""

    big: str
    small: str
    big_operation: uuid.UUID
    small_operation: uuid.UUID
    address: str
    sid: str
    latest: datetime
    position: tuple[datetime, uuid.UUID]
    # Deep in the big operation: its messages share one created_at.
    in_operation: tuple[datetime, uuid.UUID]


async def sample(conn: asyncpg.Connection) -> Sample:
    big = "AC" + await conn.fetchval("SELECT md5('bench0')")
    small = "AC" + await conn.fetchval("SELECT md5('bench5')")
    big_operation = await conn.fetchval(
        "SELECT id FROM operations WHERE account_sid = $1 AND total = $2 "
        "ORDER BY created_at DESC LIMIT 1",
        big,
        BIG_OPERATION,
    )
    small_operation = await conn.fetchval(
        "SELECT id FROM operations WHERE account_sid = $1 ORDER BY created_at DESC LIMIT 1", small
    )
    address = await conn.fetchval(
        "SELECT address FROM messages WHERE account_sid = $1 ORDER BY id LIMIT 1", big
    )
    sid = await conn.fetchval("SELECT provider_sid FROM attempts ORDER BY id LIMIT 1")
    latest = await conn.fetchval("SELECT max(created_at) FROM messages")
    row = await conn.fetchrow(
        "SELECT created_at, id FROM messages WHERE account_sid = $1 "
        "ORDER BY created_at DESC, id DESC OFFSET 5000 LIMIT 1",
        big,
    )
    inside = await conn.fetchrow(
        "SELECT created_at, id FROM messages WHERE operation_id = $1 "
        "ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
        big_operation,
        BIG_OPERATION - 100,
    )
    return Sample(
        big,
        small,
        big_operation,
        small_operation,
        address,
        sid,
        latest,
        (row[0], row[1]),
        (inside[0], inside[1]),
    )


@dataclass
class Case:
    name: str
    query: str
    args: tuple[Any, ...]
    analyze: bool = True
    tables: tuple[str, ...] = ("messages",)
    notes: list[str] = field(default_factory=list)
    # Planned as a read pool's session plans it (db.READ_SESSION: a generic plan of the
    # composed query), else with the values (db.plan_with_values).
    generic: bool = False


def message_case(name: str, account: str, *, after: Any = None, **filters: Any) -> Case:
    """A message list exactly as store.list_messages runs it: its query of this shape of
    filters, planned generically as the read pool's sessions plan it."""
    position = Position(*after) if after else None
    statement = messages_store.list_statement(
        account, messages_store.MessageFilters(**filters), position, 51
    )
    return Case(f"messages: {name}", statement.query, statement.args, generic=True)


def operation_case(name: str, account: str, **filters: Any) -> Case:
    f = operations_store.OperationFilters(**filters)
    return Case(
        f"operations: {name}",
        operations_store.Q.list_operations,
        (account, f.status, f.tags, f.start_date, f.end_date, None, None, 51),
        tables=("operations",),
    )


def cases(s: Sample) -> list[Case]:
    day = timedelta(days=1)
    last_day = {"start_date": s.latest - day}
    days_ago = {"start_date": s.latest - 4 * day, "end_date": s.latest - 3 * day}
    hour = {"start_date": s.latest - 2 * day, "end_date": s.latest - 2 * day + timedelta(hours=1)}
    big, small = s.big, s.small
    return [
        message_case("no filter", big),
        message_case("no filter, page 100", big, after=s.position),
        message_case("no filter (small account)", small),
        message_case("operationId (2,500 messages)", big, operation_id=s.big_operation),
        message_case("operationId, other account's", small, operation_id=s.big_operation),
        message_case(
            "operationId, last pages (one created_at)",
            big,
            operation_id=s.big_operation,
            after=s.in_operation,
        ),
        message_case("tags campaign:first (the oldest send)", big, tags={"campaign": "first"}),
        message_case("tags wave:1, page 100", big, tags={"wave": "1"}, after=s.position),
        message_case("status DELIVERED (85%)", big, status="DELIVERED"),
        message_case("status FAILED (3%)", big, status="FAILED"),
        message_case("status CANCELED (1%)", big, status="CANCELED"),
        message_case("status FAILED, page 100", big, status="FAILED", after=s.position),
        message_case("channel PHONE (90%)", big, channel="PHONE"),
        message_case("channel CONVERSATIONS (1%)", big, channel="CONVERSATIONS"),
        message_case("address", big, address=s.address),
        message_case("tags wave:1 (33%)", big, tags={"wave": "1"}),
        message_case("tags campaign:c7 (2%)", big, tags={"campaign": "c7"}),
        message_case("tags campaign:rare (1%)", big, tags={"campaign": "rare"}),
        message_case("tags name:n42 (rendered Liquid, 0.001%)", big, tags={"name": "n42"}),
        message_case("tags campaign:c7 + wave:1", big, tags={"campaign": "c7", "wave": "1"}),
        message_case("startDate (last day)", big, **last_day),
        message_case("startDate+endDate (a day, 3 days ago)", big, **days_ago),
        message_case("startDate+endDate (one hour)", big, **hour),
        message_case("endDate only (older than 6 days)", big, end_date=s.latest - 6 * day),
        message_case("status+channel", big, status="FAILED", channel="WHATSAPP"),
        message_case("status+tags", big, status="UNDELIVERED", tags={"campaign": "c7"}),
        message_case("status+tags rare", big, status="FAILED", tags={"campaign": "rare"}),
        message_case("address+status", big, address=s.address, status="DELIVERED"),
        message_case("operationId+status", big, operation_id=s.big_operation, status="FAILED"),
        message_case("operationId+tags", big, operation_id=s.big_operation, tags={"wave": "1"}),
        message_case("tags+dates", big, tags={"campaign": "c7"}, **days_ago),
        message_case("status+dates", big, status="CANCELED", **hour),
        message_case("channel+status+dates", big, channel="PHONE", status="SENT", **days_ago),
        message_case(
            "everything",
            big,
            operation_id=s.big_operation,
            status="DELIVERED",
            channel="PHONE",
            address=s.address,
            tags={"wave": "1"},
            start_date=s.latest - 7 * day,
            end_date=s.latest + day,
        ),
        message_case("tags matching nothing", big, tags={"campaign": "none"}),
        message_case("address (small account)", small, address=s.address),
        message_case("status FAILED (small account)", small, status="FAILED"),
        operation_case("no filter", big),
        operation_case("no filter (small account)", small),
        operation_case("tags campaign:rare (small account)", small, tags={"campaign": "rare"}),
        operation_case("status CANCELED", big, status="CANCELED"),
        operation_case("status COMPLETED", big, status="COMPLETED"),
        operation_case("tags campaign:rare", big, tags={"campaign": "rare"}),
        operation_case("tags wave:1", big, tags={"wave": "1"}),
        operation_case("dates (a day, 3 days ago)", big, **days_ago),
        operation_case("status+tags+dates", big, status="COMPLETED", tags={"wave": "2"}, **hour),
        Case(
            "operation errors: page",
            operations_store.Q.list_errors,
            (s.big_operation, None, None, 51),
        ),
        Case("operation errors: counts", operations_store.Q.error_counts, (s.big_operation,)),
        Case(
            "operation with its stats (counter rows)",
            operations_store.Q.get_operation,
            (s.big_operation, s.big),
            tables=("operations", "operation_counters"),
        ),
        Case(
            "seek: provider sid",
            messages_store.Q.find_message_by_provider_sid,
            (s.sid, big),
            tables=("messages", "attempts"),
        ),
        Case(
            "cancel: waiting messages (not executed)",
            operations_store.Q.cancel_waiting_messages,
            (s.big_operation, datetime.now(UTC)),
            analyze=False,
        ),
    ]


# A partition's scan counts as its table's (messages_p20261203, messages_default, messages_legacy
# are messages). A Seq Scan costing less than this reads a table (or partition) of a few dozen
# pages, where it is the planner's right call: an empty day ahead, or a day with a few rows.
SMALL_SCAN_COST = 200.0
_SEQ_SCAN = re.compile(r"Seq Scan on (\w+?)(?:_p\d{8}|_default|_legacy)?(?: \w+)?  \(cost=(\S+)")


@dataclass
class Explained:
    case: Case
    plan: list[str]
    seq_scans: list[str]
    summary: str
    seconds: float | None
    # Rows the scans of `messages` read (returned or filtered out), over all their loops.
    messages_read: int = 0


async def explain(conn: asyncpg.Connection, case: Case) -> Explained:
    """The plan the service gets: generic, in a read pool's session settings (message lists),
    else planned with the values (db.plan_with_values)."""
    options = "ANALYZE, BUFFERS, " if case.analyze else ""
    async with conn.transaction(readonly=case.analyze):
        if not case.generic:
            await db.plan_with_values(conn)
            rows = await conn.fetch(f"EXPLAIN ({options}FORMAT TEXT) {case.query}", *case.args)
        else:
            # EXPLAIN of a bound statement plans it with the values; EXPLAIN EXECUTE of a
            # prepared one takes the plan the session's settings choose (the generic one).
            for name, value in db.READ_SESSION.items():
                if name != "default_transaction_read_only":
                    await conn.execute(f"SET LOCAL {name} = {value}")
            await conn.execute(f"PREPARE explained_case AS {case.query}")
            try:
                values = ", ".join(_literal(arg) for arg in case.args)
                rows = await conn.fetch(
                    f"EXPLAIN ({options}FORMAT TEXT) EXECUTE explained_case({values})"
                )
            finally:
                await conn.execute("DEALLOCATE explained_case")
    plan = [row[0] for row in rows]
    seq_scans = [
        table
        for table, cost in _SEQ_SCAN.findall("\n".join(plan))
        if table in case.tables and float(cost.split("..")[1]) >= SMALL_SCAN_COST
    ]
    seconds = None
    for line in plan:
        if line.startswith("Execution Time:"):
            seconds = float(line.split()[2]) / 1000
    return Explained(case, plan, seq_scans, _summary(plan), seconds, messages_read(plan))


def _literal(value: Any) -> str:
    """A statement argument as an SQL literal (untyped: it takes its parameter's type)."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    text = json.dumps(value) if isinstance(value, dict) else str(value)
    return "'" + text.replace("'", "''") + "'"


_ACTUAL = re.compile(r"actual time=\S+ rows=([\d.]+) loops=(\d+)")
_REMOVED = re.compile(r"Rows Removed by (?:Filter|Index Recheck): (\d+)")


def messages_read(plan: Sequence[str]) -> int:
    """Rows read by the plan's scans of `messages`: returned plus filtered out, times loops."""
    total = 0
    for index, line in enumerate(plan):
        if "Scan" not in line or " on messages" not in line:
            continue
        actual = _ACTUAL.search(line)
        if actual is None:  # never executed
            continue
        rows, loops = float(actual.group(1)), int(actual.group(2))
        removed = 0
        for detail in plan[index + 1 :]:
            if "->" in detail:
                break
            found = _REMOVED.search(detail)
            if found:
                removed += int(found.group(1))
        total += round(rows * loops + removed * loops)
    return total


def _summary(plan: Sequence[str]) -> str:
    """The plan's shape: its nodes, outermost first, without costs."""
    nodes = []
    for line in plan:
        text = line.strip().removeprefix("->").strip()
        if not text or ":" in text.split("(")[0]:
            continue
        nodes.append(text.split("  (")[0])
    return " > ".join(nodes)


async def run(admin_url: str, messages: int, *, fresh: int, verbose: bool, keep: bool) -> int:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    url = admin_url.rpartition("/")[0] + f"/{DATABASE}"
    conn = await asyncpg.connect(url)
    await db.init_connection(conn)
    failures = 0
    try:
        await migrate.apply(conn)
        started = time.monotonic()
        await fill(conn, messages)
        counted = await conn.fetchval("SELECT count(*) FROM messages")
        ops = await conn.fetchval("SELECT count(*) FROM operations")
        print(
            f"filled {counted:,} messages, {ops:,} operations in "
            f"{time.monotonic() - started:.0f} s; ANALYZEd\n"
        )
        found = await sample(conn)
        todo = cases(found)
        if fresh:
            operation_id = await fresh_send(conn, found.big, fresh)
            todo += await fresh_cases(conn, found.big, operation_id)
        for case in todo:
            result = await explain(conn, case)
            took = f"{result.seconds * 1000:8.2f} ms" if result.seconds is not None else " " * 11
            mark = "SEQ SCAN!" if result.seq_scans else "ok"
            read = f"{result.messages_read:>9,}" if case.name.startswith("messages:") else " " * 9
            print(f"{mark:9} {took} {read} read  {case.name}\n{' ' * 22}{result.summary}")
            if verbose or result.seq_scans:
                print("\n".join(" " * 22 + line for line in result.plan))
            failures += bool(result.seq_scans)
    finally:
        await conn.close()
        if not keep:
            admin = await asyncpg.connect(admin_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            finally:
                await admin.close()
    print(f"\n{failures} plan(s) with a Seq Scan on a listed table")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument(
        "--fresh-send",
        type=int,
        default=10_000,
        help="messages of the send just accepted (0: none)",
    )
    parser.add_argument("--verbose", action="store_true", help="print every plan in full")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    admin_url = os.environ.get("DATABASE_URL")
    server = None
    if not admin_url:
        server = devstack.start_postgres(DEV_ROOT)
        admin_url = server.url
    try:
        return asyncio.run(
            run(
                admin_url,
                args.messages,
                fresh=args.fresh_send,
                verbose=args.verbose,
                keep=args.keep,
            )
        )
    finally:
        if server is not None:
            devstack.stop(server, DEV_ROOT, "pg")


if __name__ == "__main__":
    sys.exit(main())
