"""Event streams (Server-Sent Events) with N listeners on one API process: PostgreSQL queries
per second and event latency, against the same send with no listener.

For each N in 0, 1, 100, 1,000: a send of 50 recipients from a sender limited to 5 messages a
second (about 10 s of status changes: queued, sent, delivered), scheduled a few seconds ahead so
that N streams of its events (GET /v1/Messages/Operations/{id}/Events, from a separate client
process, bench/sse_client.py) are open before it starts. Figures:

- PostgreSQL transactions per second of the stack's database over a 10 s window of the send
  (pg_stat_database xact_commit + xact_rollback; every statement the service runs outside an
  explicit transaction is one), beside the 0-listener run (the send's own queries);
- event latency p50/p99: arrival at the listener minus the event's `time` (the status change),
  over up to 100 of the N streams, beside the 1-listener run.

    uv run python bench/sse_listeners.py [--messages 100000] [--listeners 0 1 100 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import preload, sends
from bench.report import LOWER, Report, Section
from bench.stack import ROOT, BenchStack, bench_stack
from service.accounts.logic import NewCredentials

NO_RATE_LIMIT = {"API_REQUESTS_PER_SECOND": "0"}
STREAM_SENDER = "+15017150005"
RECIPIENTS = 50
MPS = 5
WINDOW_S = 10.0
RAMP = 100  # new streams a second


async def transactions(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        value: int = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
        return value
    finally:
        await conn.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


async def one_run(stack: BenchStack, listeners: int, seed: int) -> dict[str, Any]:
    lead = 8 + listeners / RAMP  # time to open every stream first
    send_at = int(time.time() + lead) + 1
    async with httpx.AsyncClient(base_url=stack.api, auth=stack.auth, timeout=120) as http:
        body = {
            "to": sends.recipients(RECIPIENTS, seed=seed),
            "content": {"text": "events"},
            "from": {"address": STREAM_SENDER, "channel": "SMS"},
            "schedule": {
                "sendAt": [datetime.fromtimestamp(send_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]
            },
        }
        operation_id = await sends.send(http, body)
        client = None
        connected_in_time = True
        if listeners:
            client = await asyncio.create_subprocess_exec(
                sys.executable,
                str(ROOT / "bench" / "sse_client.py"),
                stack.api,
                operation_id,
                "--streams",
                str(listeners),
                "--deadline",
                str(lead + WINDOW_S + 60),
                "--ramp",
                str(RAMP),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                cwd=ROOT,
            )
            assert client.stdin is not None
            assert client.stdout is not None
            client.stdin.write(json.dumps(list(stack.auth)).encode() + b"\n")
            await client.stdin.drain()
            client.stdin.close()
            line = (await client.stdout.readline()).decode()
            connected = int(line.split()[1]) if line.startswith("connected") else 0
            connected_in_time = time.time() < send_at and connected == listeners
        await asyncio.sleep(max(0.0, send_at + 1 - time.time()))
        before = await transactions(stack.database_url)
        started = time.monotonic()
        await asyncio.sleep(WINDOW_S)
        after = await transactions(stack.database_url)
        per_second = (after - before) / (time.monotonic() - started)
        result: dict[str, Any] = {"latencies_ms": [], "events": 0, "ended": 0, "failed": 0}
        if client is not None:
            output, _ = await client.communicate()
            result = json.loads(output.decode().strip().splitlines()[-1])
        await sends.wait_settled(http, operation_id, timeout_s=300)
    return {
        "listeners": listeners,
        "queries_per_s": per_second,
        "in_time": connected_in_time,
        **result,
    }


def _why(run: dict[str, Any]) -> str:
    failures = run.get("failures") or {}
    return " (" + ", ".join(f"{k}: {v}" for k, v in failures.items()) + ")" if failures else ""


def measure(
    template: str,
    account: NewCredentials,
    *,
    scale: str,
    listeners: tuple[int, ...] = (0, 1, 100, 1000),
) -> Report:
    report = Report()
    section = Section(
        f"4. Event streams: N SSE listeners of one operation on one API process "
        f"({scale} messages preloaded)",
        [
            "listeners",
            "PG queries/s",
            "÷ 0 listeners",
            "events received",
            "latency p50 ms",
            "latency p99 ms",
            "p50 ÷ 1 listener",
            "streams ended / failed",
        ],
    )
    with bench_stack("bench_sse", template=template, account=account, env=NO_RATE_LIMIT) as stack:

        async def register() -> None:
            async with httpx.AsyncClient(base_url=stack.api, auth=stack.auth) as http:
                answer = await http.post(
                    "/v1/Senders",
                    json={"address": STREAM_SENDER, "channel": "SMS", "mps": MPS},
                )
                answer.raise_for_status()

        asyncio.run(register())
        runs = [asyncio.run(one_run(stack, n, seed=10 + i)) for i, n in enumerate(listeners)]
    base = next((r["queries_per_s"] for r in runs if r["listeners"] == 0), None)
    one = next((r for r in runs if r["listeners"] == 1), None)
    one_p50 = percentile(one["latencies_ms"], 0.5) if one else None
    for run in runs:
        n = run["listeners"]
        p50 = percentile(run["latencies_ms"], 0.5)
        p99 = percentile(run["latencies_ms"], 0.99)
        report.figure(f"sse {n} listeners: PG queries/s", run["queries_per_s"], "/s", LOWER)
        if n:
            report.figure(f"sse {n} listeners: latency p50", p50, "ms", LOWER)
            report.figure(f"sse {n} listeners: latency p99", p99, "ms", LOWER)
        name = f"{n:,}" + ("" if run["in_time"] else " (not all connected before the send)")
        section.rows.append(
            [
                name,
                f"{run['queries_per_s']:,.0f}",
                f"{run['queries_per_s'] / base:.2f}" if base else "-",
                f"{run['events']:,}" if n else "-",
                f"{p50:,.1f}" if n else "-",
                f"{p99:,.1f}" if n else "-",
                f"{p50 / one_p50:.2f}" if n and one_p50 else "-",
                f"{run['ended']:,} / {run['failed']:,}{_why(run)}" if n else "-",
            ]
        )
    section.notes.append(
        f"each run: {RECIPIENTS} recipients at {MPS} messages/s (~{RECIPIENTS // MPS} s of "
        f"status changes); queries/s over {WINDOW_S:.0f} s of it, from pg_stat_database "
        "(PostgreSQL flushes these counters about once a second per backend); latency over "
        f"up to 100 of the streams; streams open at {RAMP} a second before the send starts"
    )
    report.sections.append(section)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--listeners", type=int, nargs="+", default=[0, 1, 100, 1000])
    args = parser.parse_args()
    with preload.preloaded(args.messages) as (template, account):
        measure(
            template, account, scale=f"{args.messages:,}", listeners=tuple(args.listeners)
        ).print()


if __name__ == "__main__":
    main()
