"""Redis killed, hung or flushed: sends are still accepted, workers outlive it, nothing is lost.

Each test has a Redis server of its own (killing the session's would disturb every other
test), a database of its own (its worker claims everything due there), the real API (served
on loopback) and real `python -m workers` processes sending to the session's sandbox.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from sandbox.serving import serve_asgi
from service import devstack, ids
from service.app import create_app
from service.settings import Settings
from tests.support.tenants import Tenant
from tests.support.workers import WorkerProcesses

# Generous, only so that a broken run fails instead of hanging; a correct one takes seconds.
DEADLINE_S = 60.0


class PrivateRedis:
    """A Redis server of the test's own, to kill, hang and start again on the same port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server = devstack.start_redis(root)
        self.port = int(self.server.url.rsplit(":", 1)[1].split("/")[0])

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def process(self) -> subprocess.Popen[bytes]:
        assert self.server.process is not None
        return self.server.process

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def start_again(self) -> None:
        self.server = devstack.start_redis(self.root, port=self.port)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a hung one first wakes up to stop
        devstack.stop(self.server, self.root, "redis")


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis-server")
    try:
        yield server
    finally:
        server.stop()


# Every test here runs workers: each gets a database of its own (and a Redis, below).
pytestmark = pytest.mark.own_stack


@pytest.fixture
def own_settings(settings: Settings, private_redis: PrivateRedis) -> Settings:
    # A strict request quota: while Redis is away it must let every request through.
    return msgspec.structs.replace(
        settings,
        redis_url=private_redis.url,
        api_requests_per_second=0.01,
        api_request_burst=1,
    )


@pytest.fixture
async def api(own_settings: Settings, tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve_asgi(create_app(own_settings)) as url,
        httpx.AsyncClient(base_url=url, auth=tenant.auth, timeout=30) as http,
    ):
        yield http


class Workers(WorkerProcesses):
    """`python -m workers` processes on the test's database and Redis, logging to one file."""

    def __init__(self, settings: Settings, log: Path) -> None:
        # A send whose batch Redis failed after its claim comes back when its lease ends (as
        # short as the provider timeout allows). The grace is long: a stop that waited for it
        # would outlast the test's deadline.
        super().__init__(
            settings,
            log,
            CLAIM_LEASE_S="15",
            UNREGISTERED_SENDER_MPS="100",
            WORKER_SHUTDOWN_GRACE_S="600",
            LOG_FORMAT="console",
        )

    async def noticed_an_outage(self) -> bool:
        return "Redis unavailable" in self.text()


@pytest.fixture
async def workers(
    own_settings: Settings, sandbox: httpx.AsyncClient, tmp_path: Path
) -> AsyncIterator[Workers]:
    # Status callbacks are held back: the sandbox's own list says what was sent.
    await sandbox.post("/sandbox/config", json={"callback_delay_ms": 600_000})
    started = Workers(own_settings, tmp_path / "workers.log")
    try:
        yield started
    finally:
        started.kill_all()


async def wait_for(
    condition: Callable[[], Awaitable[bool]], what: str, workers: Workers | None = None
) -> None:
    """Poll until `condition` answers true; fail after DEADLINE_S (with the workers' log)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + DEADLINE_S
    while not await condition():
        if loop.time() > give_up:
            pytest.fail(f"gave up waiting for {what}\n{workers.tail() if workers else ''}")
        await asyncio.sleep(0.05)


async def exited(process: subprocess.Popen[bytes]) -> int:
    """The process's exit code, waited for off the event loop; fails after DEADLINE_S."""
    try:
        return await asyncio.to_thread(process.wait, DEADLINE_S)
    except subprocess.TimeoutExpired:
        pytest.fail("the process did not exit")


def send_body(sender: str, to: list[str], send_at: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "to": [{"address": address, "channel": "PHONE"} for address in to],
        "content": {"text": "through the outage"},
        "from": {"address": sender, "channel": "SMS"},
    }
    if send_at is not None:
        body["schedule"] = {"sendAt": [send_at.isoformat()]}
    return body


async def send(api: httpx.AsyncClient, body: dict[str, Any]) -> uuid.UUID:
    answer = await api.post("/v1/Messages", json=body)
    assert answer.status_code == 202, answer.text
    operation_id = ids.decode(ids.OPERATION, answer.json()["operationId"])
    assert operation_id is not None
    return operation_id


def arrived_from(sandbox: httpx.AsyncClient, sender: str) -> Callable[[], Awaitable[list[str]]]:
    async def recipients() -> list[str]:
        messages = (await sandbox.get("/sandbox/messages")).json()["messages"]
        return sorted(m["to"] for m in messages if m["from"] == sender)

    return recipients


# ---------------------------------------------------------------- the API


async def test_sends_are_accepted_while_redis_is_down(
    api: httpx.AsyncClient, private_redis: PrivateRedis, pool: asyncpg.Pool
) -> None:
    private_redis.kill()

    to = ["+15558720001", "+15558720002"]
    operation_id = await send(api, send_body("+15017122681", to))
    stored = await pool.fetch(
        "SELECT address, status FROM messages WHERE operation_id = $1 ORDER BY address",
        operation_id,
    )
    assert [(r["address"], r["status"]) for r in stored] == [(a, "QUEUED") for a in to]

    # The quota (one request per 100 s) lets every request through while it cannot count.
    operation = ids.encode(ids.OPERATION, operation_id)
    for path in ("/v1/Senders", f"/v1/Messages?operationId={operation}", "/v1/Messages/Operations"):
        answer = await api.get(path)
        assert answer.status_code == 200, (path, answer.text)
    listed = (await api.get(f"/v1/Messages?operationId={operation}")).json()
    assert sorted(m["to"][0]["address"] for m in listed["messages"]) == to

    ready = await api.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"].startswith("unavailable")
    # The scrape has the queue's metrics, read from PostgreSQL; the provider-call counts,
    # kept in Redis, are left out of it until Redis is back.
    metrics = await api.get("/metrics")
    assert metrics.status_code == 200
    assert "comms_sender_backlog_messages" in metrics.text
    assert "comms_provider_requests" not in metrics.text


async def test_a_hung_redis_does_not_hang_a_send(
    api: httpx.AsyncClient, private_redis: PrivateRedis, pool: asyncpg.Pool
) -> None:
    private_redis.process.send_signal(signal.SIGSTOP)  # connections open, nothing answers
    operation_id = await send(api, send_body("+15017122682", ["+15558720003"]))
    assert (
        await pool.fetchval("SELECT count(*) FROM messages WHERE operation_id = $1", operation_id)
        == 1
    )
    assert (await api.get("/v1/Senders")).status_code == 200


async def test_the_api_starts_without_redis_and_uses_it_once_back(
    own_settings: Settings, tenant: Tenant, private_redis: PrivateRedis
) -> None:
    private_redis.kill()
    async with (
        serve_asgi(create_app(own_settings)) as url,
        httpx.AsyncClient(base_url=url, auth=tenant.auth, timeout=30) as api,
    ):
        await send(api, send_body("+15017122683", ["+15558720004"]))

        private_redis.start_again()
        operation_id = await send(api, send_body("+15017122683", ["+15558720005"]))
        redis = Redis.from_url(private_redis.url)
        try:
            # The dispatch job is enqueued again (arq's queue holds it by its job id)...
            assert await redis.zscore("arq:queue", f"dispatch:{operation_id}") is not None
        finally:
            await redis.aclose()
        # ... and the quota counts again: one request per 100 s, spent by the send above.
        assert (await api.get("/v1/Senders")).status_code == 429


# ---------------------------------------------------------------- workers


async def test_a_worker_outlives_redis_and_sends_what_was_accepted_meanwhile(
    api: httpx.AsyncClient,
    private_redis: PrivateRedis,
    workers: Workers,
    sandbox: httpx.AsyncClient,
    pool: asyncpg.Pool,
) -> None:
    sender = "+15017122684"
    arrived = arrived_from(sandbox, sender)
    worker = workers.start()
    await send(api, send_body(sender, ["+15558730001"]))

    async def first_sent() -> bool:
        return await arrived() == ["+15558730001"]

    await wait_for(first_sent, "the send before the outage", workers)

    private_redis.kill()
    await wait_for(workers.noticed_an_outage, "the worker to notice Redis is gone", workers)
    assert worker.poll() is None, workers.tail()

    # Accepted while Redis is down: one due now, one scheduled that falls due meanwhile.
    await send(api, send_body(sender, ["+15558730002"]))
    send_at = datetime.now(UTC) + timedelta(seconds=1)
    scheduled = await send(api, send_body(sender, ["+15558730003"], send_at))

    async def scheduled_is_due() -> bool:
        due: bool = await pool.fetchval(
            "SELECT bool_and(scheduled_for <= now()) FROM messages WHERE operation_id = $1",
            scheduled,
        )
        return due

    await wait_for(scheduled_is_due, "the scheduled send to fall due", workers)
    assert worker.poll() is None, workers.tail()

    private_redis.start_again()
    everything = ["+15558730001", "+15558730002", "+15558730003"]

    async def all_sent() -> bool:
        return len(await arrived()) >= len(everything)

    await wait_for(all_sent, "the sends accepted during the outage", workers)
    assert await arrived() == everything  # each once
    assert worker.poll() is None, workers.tail()

    worker.send_signal(signal.SIGTERM)
    assert await exited(worker) == 0, workers.tail()


async def test_a_worker_started_without_redis_waits_for_it(
    api: httpx.AsyncClient,
    private_redis: PrivateRedis,
    workers: Workers,
    sandbox: httpx.AsyncClient,
) -> None:
    sender = "+15017122685"
    private_redis.kill()
    worker = workers.start()
    await wait_for(workers.noticed_an_outage, "the worker to find Redis gone", workers)
    assert worker.poll() is None, workers.tail()
    await send(api, send_body(sender, ["+15558740001"]))

    private_redis.start_again()

    async def sent() -> bool:
        return await arrived_from(sandbox, sender)() == ["+15558740001"]

    await wait_for(sent, "the send once Redis is back", workers)
    worker.send_signal(signal.SIGTERM)
    assert await exited(worker) == 0, workers.tail()


async def test_sigterm_during_an_outage_stops_the_worker_at_once(
    private_redis: PrivateRedis, workers: Workers
) -> None:
    worker = workers.start()
    private_redis.kill()
    await wait_for(workers.noticed_an_outage, "the worker to notice Redis is gone", workers)
    worker.send_signal(signal.SIGTERM)
    # The grace period is 600 s here: an exit within the deadline did not wait for it.
    assert await exited(worker) == 0, workers.tail()


async def test_a_flushed_redis_loses_and_repeats_nothing(
    api: httpx.AsyncClient,
    private_redis: PrivateRedis,
    workers: Workers,
    sandbox: httpx.AsyncClient,
) -> None:
    sender = "+15017122686"
    arrived = arrived_from(sandbox, sender)
    to = [f"+1555875{n:04d}" for n in range(300)]  # three seconds at 100 a second
    worker = workers.start()
    await send(api, send_body(sender, to))

    async def a_third() -> bool:
        return len(await arrived()) >= len(to) // 3

    await wait_for(a_third, "a third of the messages", workers)
    redis = Redis.from_url(private_redis.url)
    try:
        # Sender leases, rate limiter state, arq's queue and job marks: all gone mid-send.
        await redis.flushall()
    finally:
        await redis.aclose()
    later = "+15558759999"
    await send(api, send_body(sender, [later]))

    async def all_sent() -> bool:
        return len(await arrived()) >= len(to) + 1

    await wait_for(all_sent, "every message after the flush", workers)
    assert await arrived() == sorted([*to, later])  # each once
    assert worker.poll() is None, workers.tail()
