"""Delivery receipts the API applies per second, against a bare request to the same process.

Receipts are the busiest traffic the API takes: every message brings two or more status
callbacks (sent, delivered, ...), so a send rate of R costs the API 2R signed form posts. This
sends N messages through the stack with the sandbox's own callbacks held back, then posts a
`sent` and a `delivered` callback for each (signed like Twilio's, 64 at a time) and reports:

- receipts applied per second and API CPU per receipt (from /proc; a figure that a busy
  machine disturbs much less than a rate);
- the raw baseline: the same number of GET /healthz on the same API process and client.

Every message must end DELIVERED, or the run fails.

    uv run python bench/receipts.py [--messages 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import httpx
from httpx_aiohttp import HttpxAiohttpClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rates import DEV_ROOT, running_stack
from service import devstack
from service.callbacks.signature import compute_signature
from service.settings import DEFAULT_PROVIDER_AUTH_TOKEN

SENDER = "+15017150001"
DATABASE = "bench_receipts"
CONCURRENCY = 64


def api_cpu_seconds() -> float:
    """CPU seconds used so far by the API's server processes (granian's and its worker)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if "service.asgi" not in Path(f"/proc/{pid}/cmdline").read_text():
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def post_all(
    http: httpx.AsyncClient, requests: list[tuple[str, bytes, dict[str, str]]]
) -> float:
    """Seconds to make every request, CONCURRENCY at a time; each must succeed."""
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(url: str, body: bytes, headers: dict[str, str]) -> None:
        async with slots:
            if body:
                answer = await http.post(url, content=body, headers=headers)
            else:
                answer = await http.get(url)
            answer.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(one(*request) for request in requests))
    return time.perf_counter() - started


def signed_receipt(
    api: str, attempt_id: str, sid: str, status: str, account: str, to: str
) -> tuple[str, bytes, dict[str, str]]:
    url = f"{api}/callbacks/twilio/messages/status?attemptId={attempt_id}"
    params = [
        ("AccountSid", account),
        ("ApiVersion", "2010-04-01"),
        ("From", SENDER),
        ("MessageSid", sid),
        ("MessageStatus", status),
        ("NumSegments", "1"),
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("To", to),
    ]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": compute_signature(DEFAULT_PROVIDER_AUTH_TOKEN, url, params),
    }
    return url, urlencode(params).encode(), headers


async def drive(api: str, sandbox: str, auth: tuple[str, str], count: int) -> None:
    async with httpx.AsyncClient(base_url=api, auth=auth, timeout=60) as client:
        (
            await client.post(
                "/v1/Senders", json={"address": SENDER, "channel": "SMS", "mps": 1000}
            )
        ).raise_for_status()
        (
            await client.post(
                "/v1/Messages",
                json={
                    "to": [
                        {"address": f"+1555700{n:04d}", "channel": "PHONE"} for n in range(count)
                    ],
                    "content": {"text": "receipt check"},
                    "from": {"address": SENDER, "channel": "SMS"},
                },
            )
        ).raise_for_status()
    database_url = devstack.start_postgres(DEV_ROOT).url.rpartition("/")[0] + f"/{DATABASE}"
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            handed = await conn.fetchval(
                "SELECT count(*) FROM attempts WHERE provider_sid IS NOT NULL"
            )
            if handed >= count:
                break
            await asyncio.sleep(0.2)
        rows = await conn.fetch(
            "SELECT a.id, a.provider_sid, a.to_address, m.account_sid"
            " FROM attempts a JOIN messages m ON m.id = a.message_id"
        )
        assert len(rows) == count, f"{len(rows)} of {count} messages were handed over"
        receipts = [
            signed_receipt(
                api, r["id"].hex, r["provider_sid"], status, r["account_sid"], r["to_address"]
            )
            for status in ("sent", "delivered")
            for r in rows
        ]
        async with HttpxAiohttpClient(
            timeout=60, limits=httpx.Limits(max_connections=CONCURRENCY)
        ) as http:
            bare = [(f"{api}/healthz", b"", {})] * len(receipts)
            await post_all(http, bare[:500])  # warm up connections and code paths
            cpu = api_cpu_seconds()
            bare_s = await post_all(http, bare)
            bare_cpu = api_cpu_seconds() - cpu
            cpu = api_cpu_seconds()
            receipts_s = await post_all(http, receipts)
            receipts_cpu = api_cpu_seconds() - cpu
        delivered = await conn.fetchval("SELECT count(*) FROM messages WHERE status = 'DELIVERED'")
        assert delivered == count, f"{delivered} of {count} messages ended DELIVERED"
    finally:
        await conn.close()
    n = len(receipts)
    print(f"{n} receipts ({count} messages x sent, delivered), {CONCURRENCY} at a time")
    print(f"  bare GET /healthz:  {n / bare_s:7,.0f}/s   API CPU {bare_cpu / n * 1000:.2f} ms each")
    print(
        f"  status callbacks:   {n / receipts_s:7,.0f}/s   API CPU {receipts_cpu / n * 1000:.2f} "
        f"ms each   ratio to bare {bare_s / receipts_s:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    # The sandbox's own callbacks are held back a day: only the ones posted here arrive.
    with running_stack(1, DATABASE, callback_delay_ms="86400000") as (api, sandbox, auth):
        asyncio.run(drive(api, sandbox, auth, args.messages))


if __name__ == "__main__":
    main()
