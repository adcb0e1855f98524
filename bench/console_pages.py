"""How long the operations console takes to render its pages with 100,000 messages in the
account: server time, in process (routing, the session check, every query, the template).

Fills a throwaway database through the service's own store (the accept path's COPY, via
tests/support/factories.py): the measured account gets 10 operations of 10,000 messages
(delivered, with 1% FAILED 21211 and 1% UNDELIVERED 30003), and a second account as many
again, so the queries have another tenant's rows to skip. ANALYZEs, signs in to the console
and requests each page many times through Litestar's in-process client (no socket, no
browser), then prints the median, 95th percentile and worst time per page against the
100 ms budget.

    REDIS_URL=redis://127.0.0.1:47307/7 uv run --frozen python bench/console_pages.py [--runs 50]

PostgreSQL and Redis come from DATABASE_URL / REDIS_URL (an admin URL: the database is created
beside it), else the embedded servers under .devdata/test are used (started when absent).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from litestar.testing import AsyncTestClient

from service import db, ids
from service.accounts import logic as accounts
from service.app import create_app
from service.settings import Settings
from tests.support.console import sign_in
from tests.support.factories import StoredMessage, insert_operation
from tests.support.servers import drop_databases, migrated_database, start_servers, stop_servers

DATABASE = f"comms_bench_console_{os.getpid()}"
OPERATIONS = 10
PER_OPERATION = 10_000
BUDGET_MS = 100.0


def messages(seed: int) -> list[StoredMessage]:
    stored = []
    for i in range(PER_OPERATION):
        address = f"+1555{seed:03d}{i:04d}"
        if i % 100 == 1:
            stored.append(StoredMessage("PHONE", address, "FAILED", 21211, "Invalid 'To'"))
        elif i % 100 == 2:
            stored.append(StoredMessage("PHONE", address, "UNDELIVERED", 30003, "Unreachable"))
        else:
            stored.append(StoredMessage("PHONE", address))
    return stored


async def fill(pool: asyncpg.Pool) -> tuple[accounts.NewCredentials, list[str]]:
    measured = await accounts.create_account(pool, "bench-console")
    neighbour = await accounts.create_account(pool, "bench-neighbour")
    operations = []
    for n in range(OPERATIONS):
        for account, into in ((neighbour, None), (measured, operations)):
            operation_id = await insert_operation(
                pool,
                account.account_sid,
                messages(n),
                now=datetime.now(UTC),
                tags={"campaign": f"c{n}"},
            )
            if into is not None:
                into.append(operation_id)
    # What autovacuum does to settled rows: index-only scans (the stats) skip the heap.
    await pool.execute("VACUUM ANALYZE")
    return measured, operations


async def timed(client: AsyncTestClient, path: str, runs: int) -> list[float]:
    for _ in range(3):  # warm: prepared statements, template compilation
        assert (await client.get(path)).status_code == 200, path
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, path
    return times


async def run(runs: int) -> int:
    servers = start_servers()
    try:
        url = await migrated_database(servers.admin_url, DATABASE)
        try:
            return await measure(url, servers.redis_url, runs)
        finally:
            await drop_databases(servers.admin_url, [DATABASE])
    finally:
        stop_servers(servers)


async def measure(url: str, redis_url: str, runs: int) -> int:
    pool = await db.create_pool(url, min_size=1, max_size=4)
    try:
        started = time.monotonic()
        credentials, operations = await fill(pool)
        total = await pool.fetchval(
            "SELECT count(*) FROM messages WHERE account_sid = $1", credentials.account_sid
        )
        message_id = await pool.fetchval(
            "SELECT id FROM messages WHERE account_sid = $1 AND status = 'FAILED' LIMIT 1",
            credentials.account_sid,
        )
    finally:
        await pool.close()
    print(
        f"{total:,} messages in the measured account ({OPERATIONS} operations), as many in "
        f"another; filled in {time.monotonic() - started:.0f} s\n"
    )
    settings = Settings(
        database_url=url,
        redis_url=redis_url,
        environment="test",
        log_level="WARNING",
        api_requests_per_second=0,
    )
    message = ids.encode(ids.MESSAGE, message_id)
    pages = {
        "operations list": "/console",
        "operations, by tag": "/console?tags=campaign:c3",
        "one operation (10k messages)": f"/console/operations/{operations[-1]}",
        "one operation, FAILED only": f"/console/operations/{operations[-1]}?status=FAILED",
        "one message": f"/console/messages/{message}",
        "senders": "/console/senders",
        "suppressions": "/console/suppressions",
        "webhooks": "/console/webhooks",
    }
    over = 0
    async with AsyncTestClient(create_app(settings), base_url="http://127.0.0.1:8000") as client:
        assert credentials.auth_token is not None
        client.follow_redirects = False
        answer = await sign_in(client, credentials.account_sid, credentials.auth_token)
        assert answer.status_code == 303, answer.text
        print(f"{'page':32} {'median':>9} {'p95':>9} {'worst':>9}   (ms, {runs} requests each)")
        for name, path in pages.items():
            times = sorted(await timed(client, path, runs))
            median = statistics.median(times)
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            mark = "" if median < BUDGET_MS else "  over the budget"
            over += median >= BUDGET_MS
            print(f"{name:32} {median:9.1f} {p95:9.1f} {times[-1]:9.1f}{mark}")
    print(f"\nbudget {BUDGET_MS:.0f} ms (median): {over} page(s) over")
    return 1 if over else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    return asyncio.run(run(args.runs))


if __name__ == "__main__":
    sys.exit(main())
