"""Profile import throughput and memory: one POST /v1/Profiles/Import of N rows, streamed by
the client, followed until COMPLETED; the API's and the worker's peak resident memory.

    uv run python bench/profiles_import.py [--rows 100000] [--million] [--csv]

Each row has an SMS address and two attributes; every other row has an external id (upserted),
the others are created. The body is made as it is sent: neither end holds it whole. Peak RSS
is each process's high-water mark (VmHWM) read before the stack stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rates import running_stack

BATCH = 5_000  # rows per chunk of the request body


def _ndjson_row(i: int) -> bytes:
    row: dict[str, object] = {
        "addresses": [{"address": f"+1555{i:07d}", "channel": "SMS"}],
        "attributes": {"plan": "pro" if i % 3 else "free", "n": i},
    }
    if i % 2:
        row["externalId"] = f"bench-{i}"
    return json.dumps(row).encode() + b"\n"


def _csv_row(i: int) -> bytes:
    external = f"bench-{i}" if i % 2 else ""
    return f"{external},+1555{i:07d},{'pro' if i % 3 else 'free'},{i}\n".encode()


async def body(rows: int, as_csv: bool) -> AsyncIterator[bytes]:
    if as_csv:
        yield b"externalId,sms,attributes.plan,attributes.n:number\n"
    make = _csv_row if as_csv else _ndjson_row
    for start in range(0, rows, BATCH):
        yield b"".join(make(i) for i in range(start, min(rows, start + BATCH)))


def _descendants(root: int) -> list[int]:
    """The pids under `root` (read from /proc: Linux only, as the stack is)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces and parentheses.
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def peak_rss_mib() -> dict[str, float]:
    """The high-water RSS of the API's and the workers' processes (the largest of each)."""
    found: dict[str, float] = {}
    for pid in _descendants(os.getpid()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        role = "api" if "granian" in command else "worker" if "-m workers" in command else None
        if role is None:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                mib = int(line.split()[1]) / 1024
                found[role] = max(found.get(role, 0.0), mib)
    return found


async def drive(api: str, auth: tuple[str, str], rows: int, as_csv: bool) -> None:
    headers = {"Content-Type": "text/csv" if as_csv else "application/x-ndjson"}
    async with httpx.AsyncClient(base_url=api, auth=auth, timeout=600) as http:
        started = time.perf_counter()
        answer = await http.post("/v1/Profiles/Import", content=body(rows, as_csv), headers=headers)
        answer.raise_for_status()
        accepted = time.perf_counter()
        import_id = answer.json()["id"]
        while True:
            state = (await http.get(f"/v1/Profiles/Imports/{import_id}")).json()
            if state["status"] != "PROCESSING":
                break
            await asyncio.sleep(0.25)
        done = time.perf_counter()
    upload, load, total = accepted - started, done - accepted, done - started
    print(f"rows: {rows:,} ({'CSV' if as_csv else 'NDJSON'}), status {state['status']}")
    print(f"imported {state['rowsImported']:,}, failed {state['rowsFailed']:,}")
    print(f"upload to 202: {upload:.1f} s ({rows / upload:,.0f} rows/s)")
    print(f"202 to COMPLETED: {load:.1f} s ({rows / load:,.0f} rows/s)")
    print(f"end to end: {total:.1f} s ({rows / total:,.0f} rows/s)")
    for role, mib in sorted(peak_rss_mib().items()):
        print(f"peak RSS, {role}: {mib:,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="import 1,000,000 rows")
    parser.add_argument("--csv", action="store_true", help="a CSV body instead of NDJSON")
    args = parser.parse_args()
    rows = 1_000_000 if args.million else args.rows
    with running_stack(1, "bench_profiles_import") as (api, _sandbox, auth):
        asyncio.run(drive(api, auth, rows, args.csv))


if __name__ == "__main__":
    main()
