"""What a poll of an operation costs as the operation grows: GET /v1/Messages/Operations/{id}
for operations of 10, 10,000 and 100,000 messages, against bare GET /healthz, under wrk.

Starts the stack (bench/rates.py's `running_stack`, no workers) on a fresh database, writes the
three operations through the accept path's COPY (tests/support/factories.py: mixed statuses, 1%
FAILED 90020) and one attempt per message, VACUUM ANALYZEs, then runs wrk (16 connections,
2 threads; the request quota off) on each URL in turn and prints requests per second and
latency percentiles.

    uv run --frozen python bench/operation_poll.py [--seconds 10] [--connections 16]

Needs wrk on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rates import DEV_ROOT, running_stack
from service import db, devstack
from tests.support.factories import StoredMessage, insert_operation

DATABASE = "bench_operation_poll"
SIZES = (10, 10_000, 100_000)
_STATUSES = ("DELIVERED", "DELIVERED", "SENT", "READ", "QUEUED", "UNDELIVERED")


def messages(size: int) -> list[StoredMessage]:
    out = []
    for n in range(size):
        address = f"+1555{n:07d}"
        if n % 100 == 0:
            out.append(StoredMessage("PHONE", address, "FAILED", 90020, "unaddressable"))
        else:
            out.append(StoredMessage("PHONE", address, _STATUSES[n % len(_STATUSES)]))  # type: ignore[arg-type]
    return out


async def fill(database_url: str, account_sid: str) -> list[str]:
    pool = await db.create_pool(database_url, min_size=1, max_size=2, timeout_s=600)
    try:
        operation_ids = []
        for size in SIZES:
            operation_ids.append(
                await insert_operation(pool, account_sid, messages(size), now=datetime.now(UTC))
            )
        await pool.execute(
            "INSERT INTO attempts (id, message_id, operation_id, account_sid, channel,"
            " from_address, to_address, status, attempted_at, updated_at)"
            " SELECT uuidv7(), id, operation_id, account_sid, 'SMS', '+15017122661', address,"
            " 'DELIVERED', created_at, created_at FROM messages WHERE status <> 'FAILED'"
        )
        await pool.execute("VACUUM ANALYZE")
        return operation_ids
    finally:
        await pool.close()


_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_PERCENTILE = re.compile(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, auth: str, seconds: int, connections: int) -> tuple[float, dict[str, float]]:
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", auth, url],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = _RATE.search(result.stdout)
    if rate is None or "Non-2xx" in result.stdout:
        raise RuntimeError(result.stdout)
    latency = {p: float(v) * _UNIT[u] for p, v, u in _PERCENTILE.findall(result.stdout)}
    return float(rate.group(1)), latency


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    # The request quota (100 a second by default) would answer most of the polls 429.
    os.environ["API_REQUESTS_PER_SECOND"] = "0"
    with running_stack(0, DATABASE) as (api, _, (account_sid, token)):
        admin_url = devstack.start_postgres(DEV_ROOT).url
        database_url = admin_url.rpartition("/")[0] + f"/{DATABASE}"
        operation_ids = asyncio.run(fill(database_url, account_sid))
        auth = (
            "Authorization: Basic " + base64.b64encode(f"{account_sid}:{token}".encode()).decode()
        )
        targets = [("GET /healthz", f"{api}/healthz")] + [
            (f"GET operation, {size:,} messages", f"{api}/v1/Messages/Operations/{operation_id}")
            for size, operation_id in zip(SIZES, operation_ids, strict=True)
        ]
        bare = None
        print(f"wrk: {args.connections} connections, {args.seconds} s each")
        for name, url in targets:
            rate, latency = wrk(url, auth, args.seconds, args.connections)
            bare = bare or rate
            print(
                f"{name:<36} {rate:>9,.0f} req/s ({rate / bare:.2f}x bare)  p50 "
                f"{latency.get('50', 0):6.2f} ms  p90 {latency.get('90', 0):6.2f} ms  "
                f"p99 {latency.get('99', 0):6.2f} ms"
            )


if __name__ == "__main__":
    main()
