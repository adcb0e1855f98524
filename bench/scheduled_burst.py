"""100,000 scheduled messages due at the same second: the API and other senders carry on.

Ten requests of 10,000 recipients are scheduled for one instant on one sender (100 msg/s).
When they come due, this measures, against the same figures taken before the burst:
  - the API: latency of small sends (POST /v1/Messages, 1 recipient) while the burst is due;
  - the worker's other work: time from accepting a 1-recipient send on another sender to the
    sandbox receiving it.

    uv run python bench/scheduled_burst.py [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rates import running_stack

BURST_SENDER = "+15017130001"
OTHER_SENDER = "+15017130002"


async def small_send(
    http: httpx.AsyncClient, sandbox: httpx.AsyncClient, n: int
) -> tuple[float, float]:
    """(API latency, accept-to-provider latency) of one 1-recipient send on the other sender."""
    address = f"+1555999{n:04d}"
    started = time.perf_counter()
    answer = await http.post(
        "/v1/Messages",
        json={
            "to": [{"address": address, "channel": "PHONE"}],
            "content": {"text": "other work"},
            "from": {"address": OTHER_SENDER, "channel": "SMS"},
        },
    )
    answer.raise_for_status()
    api = time.perf_counter() - started
    accepted_at = time.time()
    cursor = -1
    for _ in range(600):
        seen = (await sandbox.get("/sandbox/messages", params={"after": cursor})).json()
        if seen["messages"]:
            cursor = seen["messages"][-1]["index"]
        hits = [m for m in seen["messages"] if m["to"] == address]
        if hits:
            return api, float(hits[0]["received_at"]) - accepted_at
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{address} never reached the sandbox")


async def drive(api: str, sandbox_url: str, auth: tuple[str, str]) -> None:
    async with (
        httpx.AsyncClient(base_url=api, auth=auth, timeout=120) as http,
        httpx.AsyncClient(base_url=sandbox_url, timeout=60) as sandbox,
    ):
        for address, mps in ((BURST_SENDER, 100), (OTHER_SENDER, 100)):
            (
                await http.post(
                    "/v1/Senders", json={"address": address, "channel": "SMS", "mps": mps}
                )
            ).raise_for_status()
        before = [await small_send(http, sandbox, n) for n in range(10)]
        due = datetime.now(UTC) + timedelta(seconds=25)
        started = time.perf_counter()
        for batch in range(10):
            answer = await http.post(
                "/v1/Messages",
                json={
                    "to": [
                        {"address": f"+1555{batch:03d}{n:04d}", "channel": "PHONE"}
                        for n in range(10_000)
                    ],
                    "content": {"text": "burst"},
                    "from": {"address": BURST_SENDER, "channel": "SMS"},
                    "schedule": {"sendAt": [due.strftime("%Y-%m-%dT%H:%M:%SZ")]},
                },
            )
            answer.raise_for_status()
        accept_s = time.perf_counter() - started
        wait = (due - datetime.now(UTC)).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait + 0.5)
        during = [await small_send(http, sandbox, 100 + n) for n in range(10)]
        burst_seen = (await sandbox.get("/sandbox/messages", params={"after": 10**9})).json()[
            "total"
        ]
    print(f"accepted 100,000 scheduled messages in {accept_s:.2f} s ({100_000 / accept_s:,.0f}/s)")
    for name, rows in (("before the burst", before), ("while 100k are due", during)):
        api_ms = [a * 1000 for a, _ in rows]
        out_ms = [b * 1000 for _, b in rows]
        print(
            f"{name:>20}: API p50 {statistics.median(api_ms):6.1f} ms, max {max(api_ms):6.1f}"
            f" ms | other sender accept→provider p50 {statistics.median(out_ms):7.1f} ms,"
            f" max {max(out_ms):7.1f} ms"
        )
    ratio = statistics.median(b for _, b in during) / statistics.median(b for _, b in before)
    print(
        f"other sender latency ratio during/before: {ratio:.2f}; burst messages at the "
        f"sandbox by then: {burst_seen - 20}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    # Receipts are held back (10 min) so the figures show sending, not 300k callbacks.
    with running_stack(args.workers, "bench_burst", callback_delay_ms="600000") as (api, box, auth):
        asyncio.run(drive(api, box, auth))


if __name__ == "__main__":
    main()
