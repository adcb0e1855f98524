"""A send to an audience of N profiles (default 100,000) against a whole stack (API, one worker,
the sandbox), next to a send to one address.

Profiles and the audiences' memberships are inserted by SQL (the Profiles API is not what is
measured). It prints:
  - the 202 time of the audience send, against the median of 1-recipient sends: the accept stores
    the audience's reference only, so the two should be alike;
  - the expansion's rate (profiles made into messages a second: 202 → last page committed);
  - the worker's peak RSS while it expands and sends 10,000, then N (VmHWM, reset in between):
    expansion holds one page at a time, so it should barely move with N;
  - that the sandbox's ledger holds every profile's message exactly once.

    uv run python bench/audience_send.py [--profiles 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rates import DEV_ROOT, running_stack
from service import db, devstack, ids

SENDER = "+15017140001"
DATABASE = "bench_audience"


def worker_pid() -> int:
    """The stack's worker: our child process running `python -m workers`."""
    me = str(os.getpid())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = stat.rsplit(")", 1)[1].split()[1]
        if parent == me and b"workers" in cmdline and b"-m" in cmdline:
            return int(proc.name)
    raise RuntimeError("no worker process found")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def reset_peak_rss(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def audience_of(
    pool: asyncpg.Pool, http: httpx.AsyncClient, account_sid: str, count: int, first: int
) -> str:
    """A static audience of `count` new profiles, numbers +<first + n>, by SQL."""
    answer = await http.post("/v1/Audiences", json={"displayName": f"bench {count}"})
    answer.raise_for_status()
    audience_id: str = answer.json()["id"]
    key = ids.decode(ids.AUDIENCE, audience_id)
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        profile_ids = ids.uuid7_batch(count)
        await conn.execute(
            "INSERT INTO profiles (id, account_sid, addresses, attributes, created_at, updated_at)"
            " SELECT i.id, $2, jsonb_build_array(jsonb_build_object("
            "   'address', '+' || ($3::bigint + i.n - 1)::text, 'channel', 'PHONE')),"
            "   jsonb_build_object('firstName', 'P' || i.n), now(), now()"
            " FROM unnest($1::uuid[]) WITH ORDINALITY AS i(id, n)",
            profile_ids,
            account_sid,
            first,
        )
        await conn.execute(
            "INSERT INTO audience_members (audience_id, profile_id, added_at)"
            " SELECT $1, unnest($2::uuid[]), now()",
            key,
            profile_ids,
        )
    print(f"  inserted {count:,} profiles and memberships in {time.perf_counter() - started:.1f} s")
    return audience_id


async def timed_send(http: httpx.AsyncClient, to: list[dict[str, str]]) -> tuple[float, str]:
    started = time.perf_counter()
    answer = await http.post(
        "/v1/Messages",
        json={
            "to": to,
            "content": {"text": "Hi {{ profile.attributes.firstName | default: 'you' }}"},
            "from": {"address": SENDER, "channel": "SMS"},
        },
    )
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed, answer.json()["operationId"]


async def expanded_at(pool: asyncpg.Pool, operation_id: str, deadline_s: float) -> float:
    """When the operation's expansion ended (polled every 50 ms)."""
    key = ids.decode(ids.OPERATION, operation_id)
    give_up = time.perf_counter() + deadline_s
    while time.perf_counter() < give_up:
        if not await pool.fetchval("SELECT expanding FROM operations WHERE id = $1", key):
            return time.perf_counter()
        await asyncio.sleep(0.05)
    raise RuntimeError("the expansion did not end in time")


async def handed_over(
    pool: asyncpg.Pool, operation_id: str, deadline_s: float
) -> tuple[float, int]:
    """When every message of the operation was handed to the provider; how many there are."""
    key = ids.decode(ids.OPERATION, operation_id)
    give_up = time.perf_counter() + deadline_s
    while time.perf_counter() < give_up:
        row = await pool.fetchrow(
            "SELECT o.total, o.expanding, (SELECT count(*) FROM messages m"
            " WHERE m.operation_id = o.id AND m.due_at IS NOT NULL) AS waiting"
            " FROM operations o WHERE o.id = $1",
            key,
        )
        if not row["expanding"] and row["waiting"] == 0:
            return time.perf_counter(), int(row["total"])
        await asyncio.sleep(0.2)
    raise RuntimeError("the messages were not all handed over in time")


async def run_audience(
    pool: asyncpg.Pool, http: httpx.AsyncClient, account_sid: str, count: int, first: int
) -> dict[str, float]:
    pid = worker_pid()
    audience_id = await audience_of(pool, http, account_sid, count, first)
    reset_peak_rss(pid)
    accept_s, operation_id = await timed_send(http, [{"audienceId": audience_id}])
    accepted = time.perf_counter()
    expanded = await expanded_at(pool, operation_id, deadline_s=1800)
    sent, total = await handed_over(pool, operation_id, deadline_s=3600)
    assert total == count, (total, count)
    return {
        "accept_ms": accept_s * 1000,
        "expansion_rows_s": count / (expanded - accepted),
        "expansion_s": expanded - accepted,
        "send_s": sent - accepted,
        "peak_rss_mib": peak_rss_mib(pid),
    }


async def drive(api: str, sandbox_url: str, auth: tuple[str, str], profiles: int) -> None:
    database_url = devstack.start_postgres(DEV_ROOT).url.rpartition("/")[0] + f"/{DATABASE}"
    pool = await db.create_pool(database_url, min_size=1, max_size=2)
    try:
        async with (
            httpx.AsyncClient(base_url=api, auth=auth, timeout=120) as http,
            httpx.AsyncClient(base_url=sandbox_url, timeout=120) as sandbox,
        ):
            (
                await http.post(
                    "/v1/Senders", json={"address": SENDER, "channel": "SMS", "mps": 10_000}
                )
            ).raise_for_status()
            # Warm-up: the API's connections prepare the audience send's statements once.
            warm_up = await audience_of(pool, http, auth[0], 1, 15553100000)
            for _ in range(3):
                await timed_send(http, [{"audienceId": warm_up}])
            one = [
                (await timed_send(http, [{"address": f"+1555300{n:04d}", "channel": "PHONE"}]))[0]
                for n in range(10)
            ]
            one_ms = statistics.median(one) * 1000
            print(f"1-recipient send: 202 in {one_ms:.1f} ms (median of 10)")
            results = {}
            for count, first in ((10_000, 15554000000), (profiles, 15556000000)):
                print(f"audience of {count:,}:")
                results[count] = figures = await run_audience(pool, http, auth[0], count, first)
                print(
                    f"  202 in {figures['accept_ms']:.1f} ms ({figures['accept_ms'] / one_ms:.2f}"
                    f"x the 1-recipient send); expanded in {figures['expansion_s']:.1f} s "
                    f"({figures['expansion_rows_s']:,.0f} profiles/s); all handed over after "
                    f"{figures['send_s']:.1f} s; worker peak RSS {figures['peak_rss_mib']:.0f} MiB"
                )
            ledger = (await sandbox.get("/sandbox/messages")).json()["messages"]
            per_address = Counter(m["to"] for m in ledger if m["from"] == SENDER)
            expected = 1 + 10 + 10_000 + profiles
            # The warm-up profile was sent three times (three sends), the others once.
            per_address["+15553100000"] -= 2
            repeated = sum(1 for n in per_address.values() if n > 1)
            print(
                f"sandbox ledger: {sum(per_address.values()):,} sends to {len(per_address):,} "
                f"addresses (expected {expected:,} once each); repeated: {repeated}"
            )
            if len(per_address) != expected or repeated:
                raise SystemExit("a message was lost or handed over twice")
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=100_000)
    args = parser.parse_args()
    # Receipts are held back (10 min): the figures show expansion and sending, not callbacks.
    with running_stack(1, DATABASE, callback_delay_ms="600000") as (api, box, auth):
        asyncio.run(drive(api, box, auth, args.profiles))


if __name__ == "__main__":
    main()
