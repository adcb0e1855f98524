"""Requests per second and latency of the API's hot reads and of the send, measured with wrk.

Starts the stack (API, sandbox; no worker, so nothing changes under the reads) on a fresh
database, accepts `--operations` sends of `--recipients` recipients each (every message of a
send shares one created_at, as an accept stamps them) plus one of a single recipient, then runs
wrk (`--connections`, `--seconds` each) against:

- GET /healthz (the bare framework), GET /v1/Messages/Operations/{id};
- GET /v1/Messages unfiltered and filtered by operationId, status and tags, on page 1 and on
  page 200 (its token found by walking the pages), /v1/Messages/Operations and an operation's
  /Errors;
- POST /v1/Messages with 1 recipient (`--connections`), and with `--recipients` recipients
  (one connection: its latency).

    uv run python bench/api_rates.py [--only list|send] [--seconds 8] [--connections 16]

The account's request quota is raised out of reach (API_REQUESTS_PER_SECOND): it is still
checked on every request, but refuses none. wrk must be on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import wrk as bench_wrk
from bench.rates import DEV_ROOT, running_stack

SENDER = {"address": "+15017122661", "channel": "SMS"}


def _pids(api: str) -> dict[int, str]:
    """The API's processes, PostgreSQL's (postmaster and backends) and Redis's."""
    port = api.rsplit(":", 1)[1]
    found = subprocess.run(["pgrep", "-f", "--", f"--port {port}"], capture_output=True, text=True)
    pids = {int(p): "api" for p in found.stdout.split()}
    for name in ("pg", "redis"):
        pid = int((DEV_ROOT / f"{name}.state").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        pids |= dict.fromkeys([pid, *(int(c) for c in children.stdout.split())], name)
    return pids


def cpu_seconds(api: str) -> dict[tuple[int, str], float]:
    """CPU time (user + system) of each process of the stack so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid, kind in _pids(api).items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[(pid, kind)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def send_body(count: int, campaign: str) -> dict[str, object]:
    return {
        "to": [{"address": f"+1555{n:07d}", "channel": "PHONE"} for n in range(count)],
        "content": {"text": "Your code is 1234"},
        "from": SENDER,
        "tags": {"campaign": campaign},
    }


def wrk(
    url: str, auth: tuple[str, str], *, connections: int, seconds: int, body: bytes | None = None
) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, bad answers) of one wrk run (bench/wrk.py)."""
    method = "GET" if body is None else "POST"
    got = bench_wrk.run(
        url, auth=auth, method=method, body=body, seconds=seconds, connections=connections
    )
    return got.rps, got.p50_ms, got.p99_ms, got.bad


async def seed(api: str, auth: tuple[str, str], operations: int, recipients: int) -> list[str]:
    """The operations' ids, the single-recipient one last."""
    ids = []
    async with httpx.AsyncClient(base_url=api, auth=auth, timeout=120) as http:
        for index in range(operations):
            answer = await http.post("/v1/Messages", json=send_body(recipients, f"c{index}"))
            answer.raise_for_status()
            ids.append(answer.json()["operationId"])
        answer = await http.post("/v1/Messages", json=send_body(1, "single"))
        answer.raise_for_status()
        ids.append(answer.json()["operationId"])
    return ids


async def page_token(api: str, auth: tuple[str, str], query: str, page: int) -> str | None:
    """The pageToken of page `page` (1-based) of a list, walking the pages before it."""
    token = None
    async with httpx.AsyncClient(base_url=api, auth=auth, timeout=60) as http:
        for _ in range(page - 1):
            params = f"{query}&pageToken={token}" if token else query
            answer = await http.get(f"/v1/Messages?{params}")
            answer.raise_for_status()
            token = answer.json()["pagination"]["next"]
            if token is None:
                return None
    return token


def report(
    name: str, figures: tuple[float, float, float, int], cpu_ms: dict[str, float] | None = None
) -> None:
    rate, p50, p99, non_2xx = figures
    flag = f"  ({non_2xx} non-2xx!)" if non_2xx else ""
    cpu = ""
    if cpu_ms is not None:
        parts = " ".join(f"{kind} {ms:.2f}" for kind, ms in sorted(cpu_ms.items()))
        cpu = f"  CPU ms/request {sum(cpu_ms.values()):.2f} ({parts})"
    print(
        f"{name:52} {rate:9.0f} req/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms{cpu}{flag}",
        flush=True,
    )


def measured(api: str, seconds: int, run: Callable[[], tuple[float, float, float, int]]) -> Any:
    """wrk's figures and the stack's CPU time per request (API, PostgreSQL, Redis): on a
    shared machine the rate follows the other load; the CPU a request costs much less."""
    before = cpu_seconds(api)
    figures = run()
    after = cpu_seconds(api)
    used = {kind: 0.0 for _, kind in after}
    for key, t in after.items():
        used[key[1]] += t - before.get(key, 0.0)
    requests = figures[0] * seconds
    if not requests:
        return figures, None
    return figures, {kind: seconds_used * 1000 / requests for kind, seconds_used in used.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--operations", type=int, default=10)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", choices=["list", "send"])
    args = parser.parse_args()
    os.environ["API_REQUESTS_PER_SECOND"] = "1000000"
    os.environ["API_REQUEST_BURST"] = "1000000"
    c, s = args.connections, args.seconds
    with running_stack(0, "bench_api_rates") as (api, _, auth):
        header = auth
        report(
            "GET /healthz",
            *measured(api, s, lambda: wrk(f"{api}/healthz", header, connections=c, seconds=s)),
        )
        if args.only != "send":
            ids = asyncio.run(seed(api, auth, args.operations, args.recipients))
            total = args.operations * args.recipients + 1
            print(f"seeded {total:,} messages in {len(ids)} operations", flush=True)
            big = ids[0]
            report(
                "GET /v1/Messages/Operations/{id}",
                wrk(f"{api}/v1/Messages/Operations/{big}", header, connections=c, seconds=s),
            )
            lists = {
                "unfiltered": "pageSize=50",
                "operationId": f"operationId={big}&pageSize=50",
                "status=QUEUED": "status=QUEUED&pageSize=50",
                "status=FAILED": "status=FAILED&pageSize=50",
                "tags=campaign:c0": "tags=campaign:c0;&pageSize=50",
            }
            for name, query in lists.items():
                url = f"{api}/v1/Messages?{query}"
                report(f"GET /v1/Messages {name}", wrk(url, header, connections=c, seconds=s))
                token = asyncio.run(page_token(api, auth, query, 200))
                if token is not None:
                    report(
                        f"GET /v1/Messages {name} page 200",
                        wrk(f"{url}&pageToken={token}", header, connections=c, seconds=s),
                    )
            report(
                "GET /v1/Messages/Operations",
                wrk(f"{api}/v1/Messages/Operations?pageSize=50", header, connections=c, seconds=s),
            )
            report(
                "GET /v1/Messages/Operations/{id}/Errors",
                wrk(
                    f"{api}/v1/Messages/Operations/{big}/Errors?pageSize=50",
                    header,
                    connections=c,
                    seconds=s,
                ),
            )
        if args.only != "list":
            one = json.dumps(send_body(1, "bench")).encode()
            report(
                "POST /v1/Messages (1 recipient)",
                *measured(
                    api,
                    s,
                    lambda: wrk(f"{api}/v1/Messages", header, connections=c, seconds=s, body=one),
                ),
            )
            many = json.dumps(send_body(args.recipients, "bench")).encode()
            report(
                f"POST /v1/Messages ({args.recipients:,} recipients, 1 connection)",
                *measured(
                    api,
                    s,
                    lambda: wrk(f"{api}/v1/Messages", header, connections=1, seconds=s, body=many),
                ),
            )


if __name__ == "__main__":
    main()
