"""Worker liveness: a running worker beats its heartbeat into Redis, /readyz counts it, and
`python -m workers --health` (a container's health check) answers 0 while it runs and 1 once it
has stopped."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from service.health import workers
from service.settings import Settings
from tests.support.servers import ROOT
from tests.support.workers import WorkerProcesses

pytestmark = pytest.mark.own_stack


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    until = time.monotonic() + 60.0
    while not await condition():
        if time.monotonic() > until:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def health_check(processes: WorkerProcesses) -> int:
    checked = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workers", "--health", cwd=ROOT, env=processes.env
    )
    return await checked.wait()


async def test_a_running_worker_is_alive_and_a_stopped_one_is_not(
    settings: Settings, redis: Redis, anonymous: httpx.AsyncClient, tmp_path: Path
) -> None:
    processes = WorkerProcesses(settings, tmp_path / "worker.log")
    assert await health_check(processes) == 1  # no worker yet
    worker = processes.start()
    try:

        async def beating() -> bool:
            return bool(await workers.alive(redis, workers.host_prefix()))

        await wait_for(beating, "the worker's first heartbeat")
        assert await workers.alive(redis) == [f"{workers.host_prefix()}{worker.pid}"]
        assert await health_check(processes) == 0, processes.tail()
        ready = (await anonymous.get("/readyz")).json()
        assert ready == {
            "status": "ok",
            "checks": {"postgres": "ok", "redis": "ok", "workers": "1 alive"},
        }

        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 60) == 0, processes.tail()
    finally:
        processes.kill_all()
    # A worker that stops takes its heartbeat with it: dead at once, not ALIVE_FOR_S later.
    assert await workers.alive(redis) == []
    assert await health_check(processes) == 1
    assert (await anonymous.get("/readyz")).json()["status"] == "degraded"
