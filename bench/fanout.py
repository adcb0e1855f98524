"""Accept and fan-out throughput against raw baselines measured in the same run.

- Accept: one POST /v1/Messages of 10,000 recipients (validation, one COPY, 202), against a
  bare POST /healthz-style round trip of the same API process (the floor of any request).
- Fan-out: N messages from one unlimited sender through one worker to the sandbox, against
  the same N sends made directly to the sandbox with the same HTTP client, call and
  concurrency (the most any sender on this machine could do).

    uv run python bench/fanout.py [--messages 5000] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rates import running_stack
from service.settings import DEFAULT_PROVIDER_ACCOUNT_SID, DEFAULT_PROVIDER_AUTH_TOKEN
from workers.channels.http import ProviderClient, basic_authorization

SENDER = "+15017140001"


async def raw_sends(sandbox: str, count: int, concurrency: int = 64) -> float:
    """Seconds for `count` direct creates on the sandbox, `concurrency` at a time, through the
    workers' own provider client and call."""
    url = httpx.URL(f"{sandbox}/2010-04-01/Accounts/{DEFAULT_PROVIDER_ACCOUNT_SID}/Messages.json")
    headers = basic_authorization(DEFAULT_PROVIDER_ACCOUNT_SID, DEFAULT_PROVIDER_AUTH_TOKEN)
    slots = asyncio.Semaphore(concurrency)
    async with ProviderClient(timeout_s=30, max_connections=256) as http:

        async def one(n: int) -> None:
            async with slots:
                form = {"To": f"+1555777{n:04d}", "From": "+15017140002", "Body": "raw"}
                answer = await http.post_form(url, form, headers)
                assert answer.status_code == 201, answer.text

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return time.perf_counter() - started


async def drive(api: str, sandbox: str, auth: tuple[str, str], count: int) -> None:
    async with (
        httpx.AsyncClient(base_url=api, auth=auth, timeout=120) as http,
        httpx.AsyncClient(base_url=sandbox, timeout=60) as box,
    ):
        (
            await http.post(
                "/v1/Senders", json={"address": SENDER, "channel": "SMS", "mps": 10_000}
            )
        ).raise_for_status()
        started = time.perf_counter()
        for _ in range(20):
            (await http.get("/healthz")).raise_for_status()
        floor = (time.perf_counter() - started) / 20
        big = {
            "to": [{"address": f"+1555666{n:04d}", "channel": "PHONE"} for n in range(10_000)],
            "content": {"text": "accept"},
            "from": {"address": "+15017140003", "channel": "SMS"},
            # Scheduled far ahead: this measures accepting, not sending.
            "schedule": {
                "sendAt": [
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30 * 86400))
                ]
            },
        }
        accepts = []
        for _ in range(3):
            started = time.perf_counter()
            (await http.post("/v1/Messages", json=big)).raise_for_status()
            accepts.append(time.perf_counter() - started)
        accept = min(accepts)
        print(
            f"accept 10,000 recipients: {accept * 1000:.0f} ms (best of 3) = "
            f"{10_000 / accept:,.0f} recipients/s; bare request {floor * 1000:.1f} ms; "
            f"ratio {accept / floor:.0f}x a bare request"
        )

        before = (await box.get("/sandbox/messages", params={"after": 10**9})).json()["total"]
        started = time.perf_counter()
        (
            await http.post(
                "/v1/Messages",
                json={
                    "to": [
                        {"address": f"+1555888{n:04d}", "channel": "PHONE"} for n in range(count)
                    ],
                    "content": {"text": "fan-out"},
                    "from": {"address": SENDER, "channel": "SMS"},
                },
            )
        ).raise_for_status()
        while True:
            total = (await box.get("/sandbox/messages", params={"after": 10**9})).json()["total"]
            if total - before >= count:
                break
            await asyncio.sleep(0.1)
        ours = time.perf_counter() - started
        arrived = (await box.get("/sandbox/messages", params={"after": before - 1})).json()
        stamps = sorted(float(m["received_at"]) for m in arrived["messages"])
        steady = (len(stamps) - 1) / (stamps[-1] - stamps[0])
        raw = await raw_sends(sandbox, count)
        print(f"raw sends to the sandbox (64 at a time): {count / raw:,.0f}/s")
        print(
            f"comms, first to last arrival at the sandbox: {steady:,.0f}/s; ratio to raw "
            f"{steady / (count / raw):.2f}"
        )
        print(f"comms, accept to last arrival: {count / ours:,.0f}/s ({ours:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with running_stack(args.workers, "bench_fanout", callback_delay_ms="600000") as (
        api,
        sandbox,
        auth,
    ):
        asyncio.run(drive(api, sandbox, auth, args.messages))


if __name__ == "__main__":
    main()
