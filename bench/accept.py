"""Accepting sends, out of the API's process, beside a bare `GET /healthz` of the same API:

- 1 recipient: POST /v1/Messages by wrk (a Lua script sets the method, body and headers),
  16 connections: req/s, p50, p99.
- 10,000 recipients: ~20 requests one after another from a separate client process
  (bench/accept_client.py): p50 and the slowest, beside as many bare requests from that
  client the same way (one at a time).

Every send is scheduled 30 days ahead, so this measures accepting (validation, storing, the
202), not sending. The account holds the preloaded messages (bench/preload.py).

    uv run python bench/accept.py [--messages 100000] [--seconds 5] [--requests 20]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import preload, sends, wrk
from bench.report import HIGHER, LOWER, PAIRED_HEADER, Report, Section, paired_row
from bench.stack import ROOT, bench_stack
from service.accounts.logic import NewCredentials

NO_RATE_LIMIT = {"API_REQUESTS_PER_SECOND": "0"}


def big_accepts(
    api: str, auth: tuple[str, str], count: int, requests: int
) -> tuple[list[float], list[float]]:
    """Milliseconds of each of `requests` sends of `count` recipients, and of as many bare
    requests, one at a time from another process."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "accept_client.py"),
            api,
            "--recipients",
            str(count),
            "--requests",
            str(requests),
        ],
        input=json.dumps(list(auth)),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=1800,
    )
    times = json.loads(done.stdout)
    return times["accept_ms"], times["bare_ms"]


def measure(
    template: str,
    account: NewCredentials,
    *,
    scale: str,
    seconds: int = wrk.SECONDS,
    requests: int = 20,
) -> Report:
    report = Report()
    with bench_stack(
        "bench_accept", template=template, account=account, env=NO_RATE_LIMIT
    ) as stack:
        section = Section(f"3. Accepting sends: POST /v1/Messages ({scale} messages preloaded)", [])
        body = json.dumps(sends.scheduled_body(1, seed=3)).encode()
        one = wrk.paired(
            stack.api,
            f"{stack.api}/v1/Messages",
            auth=stack.auth,
            method="POST",
            body=body,
            seconds=seconds,
        )
        report.paired_figures("accept 1 recipient", one)
        accepts, bares = big_accepts(stack.api, stack.auth, 10_000, requests)
        times, bare = sorted(accepts), sorted(bares)
        p50, bare_p50 = times[len(times) // 2], bare[len(bare) // 2]
        report.figure("accept 10,000 recipients: p50", p50, "ms", LOWER)
        report.figure("accept 10,000 recipients: max", times[-1], "ms", LOWER)
        report.figure("accept 10,000 recipients: recipients/s", 10_000 / p50 * 1000, "/s", HIGHER)
        report.figure("accept 10,000 recipients: p50 ÷ bare p50", p50 / bare_p50, "", LOWER)
        section.header = PAIRED_HEADER
        section.rows.append(paired_row("1 recipient (wrk)", one))
        section.notes.append(
            f"10,000 recipients, {len(times)} requests one at a time from a client process: "
            f"p50 {p50:,.0f} ms, max {times[-1]:,.0f} ms "
            f"({10_000 / p50 * 1000:,.0f} recipients/s at p50); "
            f"bare GET /healthz of the same API, from the same client the same way just "
            f"before: p50 {bare_p50:.2f} ms, max {bare[-1]:.2f} ms; "
            f"p50 ÷ bare p50 = {p50 / bare_p50:,.0f}x"
        )
        report.sections.append(section)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=wrk.SECONDS)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with preload.preloaded(args.messages) as (template, account):
        measure(
            template,
            account,
            scale=f"{args.messages:,}",
            seconds=args.seconds,
            requests=args.requests,
        ).print()


if __name__ == "__main__":
    main()
