"""Worker processes killed or stopped mid-send: every message reaches the provider exactly once.

Real `python -m workers` processes drain one sender against the sandbox; each is killed
(SIGKILL: no shutdown, leases held, calls in flight) once more of the messages have arrived,
and a new one is started. The last one finishes. Its claims on the messages a dead worker
held come back when their leases end (8 s here); attempts left unanswered are looked up at
the provider before anything is sent again. Status callbacks are held back for the whole
test, so only the provider's own list can tell what went.

`make test` runs one kill; the slow variant (-m slow) kills three workers in a longer run.
A worker stopped with SIGTERM instead leaves nothing to look up: what it did not send it gives
back, due at once.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from schemas.messages import SendMessagesRequest
from service.clock import system_clock
from service.messages import logic
from service.settings import Settings
from tests.support.tenants import Tenant
from tests.support.workers import WorkerProcesses

SENDER = "+15017122674"


# Every test here runs workers: each gets a database and API of its own.
pytestmark = pytest.mark.own_stack


@pytest.fixture
async def workers(
    settings: Settings,
    sandbox: httpx.AsyncClient,
    redis: Redis,
    tmp_path: Path,
) -> AsyncIterator[WorkerProcesses]:
    # Status callbacks are held back for the whole test: only the provider's list can tell.
    await sandbox.post("/sandbox/config", json={"callback_delay_ms": 600_000})
    # A short lease, so a dead worker's claims come back soon: it must still outlast every call
    # made under it (PROVIDER_TIMEOUT_S + 2 s), and a claim's horizon.
    started = WorkerProcesses(
        settings,
        tmp_path / "workers.log",
        CLAIM_LEASE_S="8",
        PROVIDER_TIMEOUT_S="3",
        UNREGISTERED_SENDER_MPS="100",
    )
    try:
        yield started
    finally:
        started.kill_all()
        await redis.flushdb()  # the dead workers' leases and job marks go with them


async def arrived(sandbox: httpx.AsyncClient) -> list[dict[str, str]]:
    messages = (await sandbox.get("/sandbox/messages")).json()["messages"]
    return [m for m in messages if m["from"] == SENDER]


async def wait_for(
    condition: Callable[[], Awaitable[bool]], what: str, deadline_s: float = 120.0
) -> None:
    """Poll until `condition` answers true; fail after a generous deadline (a correct run
    takes seconds)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_s
    while not await condition():
        if loop.time() > give_up:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def accept(pool: asyncpg.Pool, tenant: Tenant, to: list[str]) -> uuid.UUID:
    body = msgspec.convert(
        {
            "to": [{"address": address, "channel": "PHONE"} for address in to],
            "content": {"text": "exactly once"},
            "from": {"address": SENDER, "channel": "SMS"},
        },
        SendMessagesRequest,
    )
    operation_id, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=body, now=system_clock()
    )
    return operation_id


def settled(pool: asyncpg.Pool, operation_id: uuid.UUID) -> Callable[[], Awaitable[bool]]:
    async def every_message_handed_over() -> bool:
        waiting = await pool.fetchval(
            "SELECT count(*) FROM messages WHERE operation_id = $1"
            " AND (due_at IS NOT NULL OR status <> 'QUEUED')",
            operation_id,
        )
        return int(waiting) == 0

    return every_message_handed_over


async def accepted_attempts(pool: asyncpg.Pool, operation_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT message_id, provider_sid FROM attempts"
        " WHERE operation_id = $1 AND provider_sid IS NOT NULL",
        operation_id,
    )
    return rows


@pytest.mark.parametrize(
    ("recipients", "kills"),
    [(400, 1), pytest.param(3000, 3, marks=pytest.mark.slow)],
    ids=["one-kill", "three-kills"],
)
async def test_killed_workers_lose_and_repeat_nothing(
    pool: asyncpg.Pool,
    tenant: Tenant,
    sandbox: httpx.AsyncClient,
    workers: WorkerProcesses,
    recipients: int,
    kills: int,
) -> None:
    to = [f"+1555870{n:04d}" for n in range(recipients)]
    operation_id = await accept(pool, tenant, to)
    worker = workers.start()
    for kill in range(1, kills + 1):
        # Killed once a further share of the messages has arrived: mid-run, calls in flight.
        share = recipients * kill // (kills + 1)

        async def enough(share: int = share) -> bool:
            return len(await arrived(sandbox)) >= share

        await wait_for(enough, f"{share} messages before kill {kill}")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert len(await arrived(sandbox)) < recipients, "the run ended before the kill"
        worker = workers.start()
    await wait_for(settled(pool, operation_id), "every message to be handed over")

    sent = await arrived(sandbox)
    assert sorted(m["to"] for m in sent) == sorted(to), workers.tail()
    accepted = await accepted_attempts(pool, operation_id)
    # One accepted attempt per message, carrying the SID of its one message at the provider.
    assert len({a["message_id"] for a in accepted}) == len(accepted) == recipients
    assert {a["provider_sid"] for a in accepted} == {m["sid"] for m in sent}


async def test_a_stopped_worker_gives_back_what_it_did_not_send(
    pool: asyncpg.Pool, tenant: Tenant, sandbox: httpx.AsyncClient, workers: WorkerProcesses
) -> None:
    to = [f"+1555871{n:04d}" for n in range(400)]
    operation_id = await accept(pool, tenant, to)
    worker = workers.start()

    async def a_third() -> bool:
        return len(await arrived(sandbox)) >= len(to) // 3

    await wait_for(a_third, "a third of the messages")
    worker.send_signal(signal.SIGTERM)

    # Waited for without blocking the event loop: the sandbox answering its last calls runs
    # on this loop.
    async def stopped() -> bool:
        return worker.poll() is not None

    await wait_for(stopped, "the worker to stop")
    assert worker.returncode == 0, workers.tail()
    sent = await arrived(sandbox)
    assert len(sent) < len(to), "the run ended before the stop"
    # Every call it made is recorded; nothing is left for another worker to look up, and what
    # it did not send is due now, with no attempt.
    attempts = await pool.fetch(
        "SELECT status, provider_sid FROM attempts WHERE operation_id = $1", operation_id
    )
    assert {a["status"] for a in attempts} == {"QUEUED"}
    assert {a["provider_sid"] for a in attempts} == {m["sid"] for m in sent}
    given_back = await pool.fetchval(
        "SELECT count(*) FROM messages WHERE operation_id = $1 AND due_at <= now() AND NOT sending",
        operation_id,
    )
    assert given_back == len(to) - len(sent)

    workers.start()
    await wait_for(settled(pool, operation_id), "every message to be handed over")
    sent = await arrived(sandbox)
    assert sorted(m["to"] for m in sent) == sorted(to)
    accepted = await accepted_attempts(pool, operation_id)
    lost = await pool.fetchval(
        "SELECT count(*) FROM attempts WHERE operation_id = $1 AND provider_sid IS NULL",
        operation_id,
    )
    assert (len(accepted), lost) == (len(to), 0)  # one attempt per message, none looked up


async def test_a_worker_paused_past_its_lease_sends_nothing_it_no_longer_holds(
    pool: asyncpg.Pool, tenant: Tenant, sandbox: httpx.AsyncClient, workers: WorkerProcesses
) -> None:
    """A worker frozen mid-send (SIGSTOP: a paused VM, a stalled host) for longer than its
    claims' lease: another worker takes the messages over and sends them, and the first,
    once it runs again, neither sends them a second time nor undoes the other's claims."""
    to = [f"+1555872{n:04d}" for n in range(400)]
    operation_id = await accept(pool, tenant, to)
    paused = workers.start()

    async def a_third() -> bool:
        return len(await arrived(sandbox)) >= len(to) // 3

    await wait_for(a_third, "a third of the messages")
    paused.send_signal(signal.SIGSTOP)
    try:
        assert len(await arrived(sandbox)) < len(to), "the run ended before the pause"
        workers.start()  # takes over once the paused worker's leases have run out

        async def all_arrived() -> bool:
            return len({m["to"] for m in await arrived(sandbox)}) == len(to)

        await wait_for(all_arrived, "the other worker to send the rest")
        await wait_for(settled(pool, operation_id), "every message to be handed over")
    finally:
        paused.send_signal(signal.SIGCONT)
    # Running again, it finds its claims gone; told to stop, it records what it had and exits.
    paused.send_signal(signal.SIGTERM)

    async def stopped() -> bool:
        return paused.poll() is not None

    await wait_for(stopped, "the paused worker to stop")
    assert paused.returncode == 0, workers.tail()
    sent = await arrived(sandbox)
    assert sorted(m["to"] for m in sent) == sorted(to), workers.tail()
    assert await settled(pool, operation_id)()
    accepted = await accepted_attempts(pool, operation_id)
    assert len({a["message_id"] for a in accepted}) == len(accepted) == len(to)
    assert {a["provider_sid"] for a in accepted} == {m["sid"] for m in sent}
