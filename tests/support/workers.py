"""Workers for tests: a burst arq worker in the test's event loop, and real `python -m workers`
processes for tests that kill, stop or starve them.

A worker claims every message that is due in its database, whoever queued it, so both refuse
the session's shared database: a test that runs one is marked `own_stack` and gets a database
of its own (see tests/README.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import msgspec
from arq.worker import Worker

from service import queue
from service.clock import Clock
from service.settings import Settings
from service.tracing import Tracing
from tests.support.api import send
from tests.support.servers import ROOT, SHARED_DATABASE, database_name
from workers import settings as worker_settings


def refuse_the_shared_database(settings: Settings) -> None:
    if database_name(settings.database_url) == SHARED_DATABASE:
        raise AssertionError(
            "a worker on the shared database would send other tests' messages:"
            " mark the test @pytest.mark.own_stack"
        )


async def run_worker(
    settings: Settings, clock: Clock | None = None, tracing: Tracing | None = None
) -> None:
    """A burst arq worker: runs every queued job, then returns (tracing to `tracing`'s provider
    when given: its owner instruments the libraries)."""
    refuse_the_shared_database(settings)
    ctx: dict[str, Any] = {"settings": settings, "clock": clock, "tracing": tracing}
    worker = Worker(
        functions=worker_settings.WorkerSettings.functions,
        redis_settings=queue.redis_settings(settings.redis_url),
        burst=True,
        poll_delay=0,
        on_startup=worker_settings.startup,
        on_shutdown=worker_settings.shutdown,
        job_serializer=queue.serialize_job,
        job_deserializer=queue.deserialize_job,
        ctx=ctx,
        handle_signals=False,
    )
    try:
        await worker.main()
        # The API's dispatch job is a hint: on a loaded machine it may miss HINT_TIMEOUT_S and
        # not be queued, and production's every-second sweep (send_due) sends the message
        # instead. The burst ends with that sweep once (after the jobs, so it finds nothing
        # when they came), so no test's outcome hangs on how fast Redis answered the API.
        await worker_settings.send_due(worker.ctx)
    finally:
        await worker.close()
    assert worker.jobs_failed == 0, "a job failed in the burst worker"


async def settle(sandbox: httpx.AsyncClient, settings: Settings, rounds: int = 1) -> None:
    """Run a burst worker, then wait for the sandbox's receipts; `rounds` times (a fallback
    queues a message again for the next round)."""
    for _ in range(rounds):
        await run_worker(settings)
        await sandbox.post("/sandbox/drain")


async def send_and_settle(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    to: list[str],
    **extra: Any,
) -> str:
    """Send, let a burst worker hand everything over, and the sandbox deliver every receipt."""
    operation_id = await send(client, to, **extra)
    await settle(sandbox, settings)
    return operation_id


class WorkerProcesses:
    """Worker processes on the settings' database and Redis (with `overrides` on top, as
    environment variables), all logging to one file."""

    def __init__(self, settings: Settings, log: Path, **overrides: str) -> None:
        refuse_the_shared_database(settings)
        values = msgspec.structs.asdict(settings)
        env = {name.upper(): str(value) for name, value in values.items() if value is not None}
        self.env = {**os.environ, **env, "LOG_LEVEL": "WARNING", **overrides}
        self.log = log
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as sink:
            worker = subprocess.Popen(
                [sys.executable, "-m", "workers"],
                cwd=ROOT,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(worker)
        return worker

    def kill_all(self) -> None:
        """SIGKILL every worker started here that still runs (a test's end, pass or fail)."""
        for worker in self.started:
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                worker.wait()

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def tail(self) -> str:
        return self.text()[-3000:]
