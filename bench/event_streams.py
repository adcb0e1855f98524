"""Many SSE streams on one API process: PostgreSQL's queries per second, and event latency.

Starts one API process (granian, one worker, as in production) on a throwaway database, opens
--streams concurrent `GET /v1/Messages/Operations/{id}/Events` streams spread over
--operations operations (two accounts), then for --seconds writes message status changes
(one per transaction, --rate a second, round robin over the operations) the way the receipt
path does. It prints:

- the transactions PostgreSQL committed in that window on the bench database
  (pg_stat_database.xact_commit delta, each statement outside a transaction being one),
  minus the writer's own: what serving the streams cost, as queries per second;
- the latency of each event from its occurred_at (the row's updated_at, set at the write) to
  the moment a stream received it, p50 / p99 / max, and how many deliveries were expected and
  received.

    uv run --frozen python bench/event_streams.py [--streams 1000] [--operations 20]
        [--seconds 30] [--rate 20]

PostgreSQL and Redis come from DATABASE_URL / REDIS_URL (an admin URL: the database is created
beside it), else the embedded servers under .devdata/test are used (started when absent).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import asyncpg
import msgspec

from schemas.messages import SendMessagesRequest
from service import db, devstack, ids
from service.accounts import logic as accounts
from service.messages import logic as messages
from tests.support.servers import drop_databases, migrated_database, start_servers, stop_servers

DATABASE = f"comms_bench_events_{os.getpid()}"
MESSAGES_PER_OPERATION = 200
ROOT = Path(__file__).resolve().parent.parent


def send_request(count: int) -> SendMessagesRequest:
    return msgspec.convert(
        {
            "to": [{"address": f"+1555{i:07d}", "channel": "PHONE"} for i in range(count)],
            "content": {"text": "x"},
            "from": {"address": "+15017122661", "channel": "SMS"},
        },
        SendMessagesRequest,
    )


class Received:
    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.by_event: dict[str, list[float]] = {}
        self.connected = 0
        self.failed = 0
        self.refusals: dict[str, int] = {}
        self.counting = False


async def follow(
    session: aiohttp.ClientSession,
    url: str,
    authorization: str,
    last_event_id: int,
    received: Received,
) -> None:
    headers = {"Last-Event-ID": str(last_event_id), "Authorization": authorization}
    try:
        async with session.get(url, headers=headers) as response:
            if response.status != 200:
                received.failed += 1
                key = str(response.status)
                received.refusals[key] = received.refusals.get(key, 0) + 1
                return
            received.connected += 1
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if not line.startswith("data:"):
                    continue
                now = datetime.now(UTC)
                if not received.counting:
                    continue
                body = msgspec.json.decode(line[5:].strip())
                occurred = datetime.fromisoformat(body["time"].replace("Z", "+00:00"))
                latency_ms = (now - occurred).total_seconds() * 1000
                received.latencies_ms.append(latency_ms)
                received.by_event.setdefault(body["id"], []).append(latency_ms)
    except (TimeoutError, aiohttp.ClientError) as exc:
        received.failed += 1
        key = type(exc).__name__
        received.refusals[key] = received.refusals.get(key, 0) + 1


async def committed(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", DATABASE
    )
    return value


async def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit("the API exited")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise SystemExit("the API did not start")


def start_api(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """The API as in production: granian, one worker process."""
    command = [sys.executable, "-m", "granian", "--interface=asgi", "--host=127.0.0.1"]
    command += ["--workers=1", "--factory", "service.asgi:app", "--port", str(port)]
    return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)


async def run(args: argparse.Namespace) -> None:
    servers = start_servers()
    url = await migrated_database(servers.admin_url, DATABASE)
    api = None
    try:
        pool = await db.create_pool(url, min_size=1, max_size=4)
        now = datetime.now(UTC)
        owners = [await accounts.create_account(pool, f"bench-events-{n}") for n in range(2)]
        operations: list[tuple[accounts.NewCredentials, str]] = []
        message_ids: list[list[object]] = []
        for n in range(args.operations):
            owner = owners[n % 2]
            key, _ = await messages.accept_send(
                pool,
                account_sid=owner.account_sid,
                request=send_request(MESSAGES_PER_OPERATION),
                now=now,
            )
            operations.append((owner, ids.encode(ids.OPERATION, key)))
            rows = await pool.fetch(
                "SELECT id FROM messages WHERE operation_id = $1 ORDER BY id", key
            )
            message_ids.append([row["id"] for row in rows])
        start_id = await pool.fetchval("SELECT max(id) FROM events")

        port = devstack.free_port()
        api_url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": servers.redis_url,
            "ENVIRONMENT": "test",
            "PUBLIC_BASE_URL": api_url,
            "LOG_LEVEL": "WARNING",
            "API_REQUESTS_PER_SECOND": "0",
        }
        api = start_api(env, port)
        await wait_healthy(api_url, api)

        received = Received()
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            streams = []
            for n in range(args.streams):
                owner, operation = operations[n % len(operations)]
                auth = aiohttp.encode_basic_auth(owner.account_sid, owner.auth_token)
                path = f"{api_url}/v1/Messages/Operations/{operation}/Events"
                streams.append(asyncio.create_task(follow(session, path, auth, start_id, received)))
            for _ in range(1200):
                if received.connected + received.failed >= args.streams:
                    break
                await asyncio.sleep(0.1)
            failed = f"failed {received.failed}: {received.refusals}"
            print(f"streams open: {received.connected} ({failed})")
            await asyncio.sleep(2)  # let the first polls and the stats settle

            stats = await asyncpg.connect(url)
            writer = await asyncpg.connect(url)
            received.counting = True
            before = await committed(stats)
            started = time.monotonic()
            writes = 0
            statuses = ("SENT", "DELIVERED")
            position = [0] * len(operations)
            interval = 1.0 / args.rate
            while time.monotonic() - started < args.seconds:
                op = writes % len(operations)
                step = position[op]
                position[op] += 1
                message = message_ids[op][(step // 2) % MESSAGES_PER_OPERATION]
                await writer.execute(
                    "UPDATE messages SET status = $2, updated_at = clock_timestamp() WHERE id = $1",
                    message,
                    statuses[step % 2] if step < 2 * MESSAGES_PER_OPERATION else "READ",
                )
                writes += 1
                next_at = started + writes * interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            elapsed = time.monotonic() - started
            await asyncio.sleep(2)  # the last events' way to the streams
            after = await committed(stats)
            received.counting = False
            for task in streams:
                task.cancel()
            await asyncio.gather(*streams, return_exceptions=True)
            await stats.close()
            await writer.close()
        await pool.close()

        # Committed transactions: the writer's, and the two stats reads, are not the streams'.
        serving = after - before - writes - 1
        per_stream = args.streams / len(operations)
        latencies = sorted(received.latencies_ms)
        print(f"window: {elapsed:.1f} s, {writes} events written ({args.rate}/s)")
        print(f"PostgreSQL transactions serving the streams: {serving / elapsed:.0f}/s")
        expected = int(writes * per_stream)
        print(f"deliveries: {len(latencies)} received, ~{expected} expected")
        if latencies:
            p50 = statistics.median(latencies)
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(f"latency ms: p50 {p50:.0f}, p99 {p99:.0f}, max {latencies[-1]:.0f}")
            # Per event: when its first and its last stream got it (a slow event for every
            # stream is the feed's lag; a spread between streams is the process's CPU).
            first = sorted(min(v) for v in received.by_event.values())
            spread = sorted(max(v) - min(v) for v in received.by_event.values())
            print(
                f"first stream to get an event, ms: p50 {statistics.median(first):.0f},"
                f" max {first[-1]:.0f}; first to last stream: p50"
                f" {statistics.median(spread):.0f}, max {spread[-1]:.0f}"
            )
    finally:
        if api is not None:
            # Its own session: granian and its worker process are one process group.
            os.killpg(api.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                api.wait(timeout=10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(api.pid, signal.SIGKILL)
        await drop_databases(servers.admin_url, [DATABASE])
        stop_servers(servers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--operations", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=20.0, help="events written per second")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
