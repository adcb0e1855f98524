"""The out-of-process listeners of bench/sse_listeners.py: N Server-Sent Event streams of one
operation (GET /v1/Messages/Operations/{id}/Events), held open until each ends or a deadline.

Every stream is read to its end; the first --measured of them also parse each event and keep
its latency: the time it arrived here minus the CloudEvent's `time` (when the status changed,
stamped by the service; same machine, same clock). Prints `connected <n>` once every stream
has its answer, then one JSON line: {"latencies_ms": [...], "events": n, "ended": n,
"failed": n, "failures": {why: n}}. Streams open at --ramp a second (100).
Credentials on stdin as ["AC…", "token"].

    python bench/sse_client.py API_URL OPERATION_ID --streams 100 --deadline 60 < credentials
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.wrk import basic


async def listen(
    session: aiohttp.ClientSession,
    url: str,
    measured: bool,
    connected: asyncio.Queue[bool],
    latencies: list[float],
    counts: dict[str, int],
    failures: dict[str, int],
) -> None:
    told = False
    try:
        async with session.get(url, headers={"Accept": "text/event-stream"}) as answer:
            told = True
            await connected.put(answer.status == 200)
            if answer.status != 200:
                failures[f"HTTP {answer.status}"] = failures.get(f"HTTP {answer.status}", 0) + 1
                return
            if not measured:
                while await answer.content.read(65536):
                    pass
            else:
                async for raw in answer.content:
                    line = raw.decode()
                    if not line.startswith("data:"):
                        continue
                    arrived = time.time()
                    event = json.loads(line[5:])
                    counts["events"] += 1
                    if event.get("type", "").startswith("com.twilio.comms-api.message."):
                        stamped = datetime.fromisoformat(event["time"]).timestamp()
                        latencies.append((arrived - stamped) * 1000)
            counts["ended"] += 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
        if not told:
            await connected.put(False)


async def main_async(args: argparse.Namespace, authorization: str) -> None:
    url = f"{args.api}/v1/Messages/Operations/{args.operation}/Events"
    latencies: list[float] = []
    counts = {"events": 0, "ended": 0}
    failures: dict[str, int] = {}
    connected: asyncio.Queue[bool] = asyncio.Queue()
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    connector = aiohttp.TCPConnector(limit=0)
    headers = {"Authorization": authorization}
    async with aiohttp.ClientSession(
        headers=headers, timeout=timeout, connector=connector
    ) as session:
        tasks = []
        for n in range(args.streams):
            listener = listen(
                session, url, n < args.measured, connected, latencies, counts, failures
            )
            tasks.append(asyncio.create_task(listener))
            # Listeners arrive at --ramp a second, not all in the same instant.
            await asyncio.sleep(1 / args.ramp)
        ok = 0
        for _ in range(args.streams):
            ok += await connected.get()
        print(f"connected {ok}", flush=True)
        _, pending = await asyncio.wait(tasks, timeout=args.deadline)
        for task in pending:
            task.cancel()
    print(
        json.dumps(
            {
                "latencies_ms": latencies,
                **counts,
                "failed": sum(failures.values()),
                "failures": failures,
                "open_at_deadline": len(pending),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("api")
    parser.add_argument("operation")
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--measured", type=int, default=100)
    parser.add_argument("--deadline", type=float, default=60)
    parser.add_argument("--ramp", type=float, default=100, help="new streams a second")
    args = parser.parse_args()
    sid, token = json.loads(sys.stdin.readline())
    asyncio.run(main_async(args, basic((sid, token))))


if __name__ == "__main__":
    main()
