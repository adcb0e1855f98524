"""Per-sender rate limits under load, with 1 and then 3 worker processes.

Four senders with limits of 1, 10, 50 and 100 messages per second get 20, 200, 800 and 1,000
messages (about 20 s each), all accepted at once. The sandbox records when each send reaches
it; from those receive times this prints, per sender, the achieved rate against its limit
(the raw baseline) and the most sends seen in any one-second window.

    uv run python bench/rates.py [--workers 1 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import DEV_ROOT, bench_stack

__all__ = ["DEV_ROOT", "running_stack"]

SENDERS = [  # (address, limit in messages per second, messages)
    ("+15017120001", 1.0, 20),
    ("+15017120010", 10.0, 200),
    ("+15017120050", 50.0, 800),
    ("+15017120100", 100.0, 1000),
]


def max_in_window(times: list[float], window: float = 1.0) -> int:
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def drive(api: str, sandbox: str, auth: tuple[str, str]) -> dict[str, list[float]]:
    async with httpx.AsyncClient(base_url=api, auth=auth, timeout=60) as http:
        for address, limit, _ in SENDERS:
            registered = await http.post(
                "/v1/Senders", json={"address": address, "channel": "SMS", "mps": limit}
            )
            registered.raise_for_status()
        bodies = [
            {
                "to": [
                    {"address": f"+1555{index:03d}{n:04d}", "channel": "PHONE"}
                    for n in range(count)
                ],
                "content": {"text": "rate check"},
                "from": {"address": address, "channel": "SMS"},
            }
            for index, (address, _, count) in enumerate(SENDERS)
        ]
        answers = await asyncio.gather(*(http.post("/v1/Messages", json=b) for b in bodies))
        for answer in answers:
            answer.raise_for_status()
    expected = sum(count for _, _, count in SENDERS)
    sent: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=sandbox, timeout=60) as box:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            # Only what arrived since the last look: the sandbox is the instrument, and
            # listing every send each time would load it more as the run goes on.
            after = sent[-1]["index"] if sent else -1
            answer = await box.get("/sandbox/messages", params={"after": after})
            sent += answer.json()["messages"]
            if len(sent) >= expected:
                break
            await asyncio.sleep(0.5)
    by_sender: dict[str, list[float]] = {address: [] for address, _, _ in SENDERS}
    for message in sent:
        by_sender[message["from"]].append(float(message["received_at"]))
    return {k: sorted(v) for k, v in by_sender.items()}


Row = tuple[str, float, int, float, float, int, float, float]


@contextlib.contextmanager
def running_stack(
    workers: int, database: str, *, callback_delay_ms: str = "0"
) -> Iterator[tuple[str, str, tuple[str, str]]]:
    """The whole stack as processes on fresh ports and a fresh database; yields
    (API URL, sandbox URL, (account sid, auth token)) and stops everything afterwards."""
    with bench_stack(database, workers=workers, callback_delay_ms=callback_delay_ms) as stack:
        yield stack.api, stack.sandbox, stack.auth


def run_once(workers: int) -> list[Row]:
    with running_stack(workers, f"bench_rates_{workers}") as (api, sandbox, auth):
        times = asyncio.run(drive(api, sandbox, auth))
    rows = []
    for address, limit, count in SENDERS:
        got = times[address]
        span = got[-1] - got[0] if len(got) > 1 else 0.0
        achieved = (len(got) - 1) / span if span else 0.0
        gaps = sorted(b - a for a, b in itertools.pairwise(got))
        rows.append(
            (
                address,
                limit,
                len(got),
                span,
                achieved,
                max_in_window(got),
                gaps[len(gaps) // 2],
                gaps[0],
            )
        )
        assert len(got) == count, f"{address}: {len(got)} of {count} arrived"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args()
    for workers in args.workers:
        rows = run_once(workers)
        print(f"\n{workers} worker process(es)")
        print(
            f"{'sender':>14} {'limit/s':>8} {'sent':>5} {'span s':>7} {'achieved/s':>10} "
            f"{'ratio':>6} {'max in 1 s':>10} {'median gap ms':>13} {'min gap ms':>10}"
        )
        for address, limit, sent, span, achieved, peak, median, least in rows:
            flag = "" if peak <= limit else "  OVER LIMIT"
            print(
                f"{address:>14} {limit:>8.0f} {sent:>5} {span:>7.2f} {achieved:>10.2f} "
                f"{achieved / limit:>6.3f} {peak:>10} {median * 1000:>13.1f} "
                f"{least * 1000:>10.1f}{flag}"
            )


if __name__ == "__main__":
    main()
