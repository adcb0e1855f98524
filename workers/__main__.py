"""`python -m workers`: one arq worker process.

SIGTERM and SIGINT stop it gracefully: the dispatcher stops sending at once (calls already
made are answered and recorded; claimed messages not sent yet are given back, due now for
another worker), then arq waits up to WORKER_SHUTDOWN_GRACE_S for running jobs and exits.

Redis going away (down, restarting, hung) does not end the process. arq's worker ends at the
first Redis call that fails, so another takes its place after a pause (RESTART_SCHEDULE_S, with
jitter, while Redis stays away), on the same Redis client, database pool and dispatcher. Redis
holds nothing PostgreSQL does not: once a worker runs again, send_due (every second, and at
once when a worker starts) sends whatever fell due meanwhile. Jobs the ended worker was running
go on to their end beside the new one: a process drains each sender in one job at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

import structlog
from arq.worker import Worker, create_worker
from redis.exceptions import RedisError

from service import db, queue
from service.backoff import delay_s
from service.gc_tuning import freeze_startup_heap
from service.health import workers as worker_health
from service.settings import Settings, load_settings
from workers import heartbeat
from workers.settings import WorkerSettings, shutdown, startup

log = structlog.get_logger(__name__)

# Seconds before the next worker starts, after each failure in a row (the last repeats).
RESTART_SCHEDULE_S = (0.5, 1.0, 2.0, 4.0, 5.0)
# A worker that ran this long before Redis failed it had reached Redis: a new outage.
RAN_WELL_S = 10.0


@dataclass
class Supervisor:
    """Runs arq workers one after another until told to stop."""

    settings: Settings
    ctx: dict[str, Any]
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    worker: Worker | None = None
    # Jobs of ended workers, still running.
    leftover_jobs: set[asyncio.Task[Any]] = field(default_factory=set)
    rng: random.Random = field(default_factory=random.Random)

    def stop(self, signum: signal.Signals) -> None:
        self.stopping.set()
        dispatcher = self.ctx.get("dispatcher")
        if dispatcher is not None:
            dispatcher.stop()
        worker = self.worker
        # A worker Redis has ended already has nothing left to wait for (see run).
        if worker is not None and worker.main_task is not None and not worker.main_task.done():
            worker.handle_sig_wait_for_completion(signum)

    async def run(self) -> None:
        """Until stopped: run a worker; when Redis ends it, wait, then run another."""
        loop = asyncio.get_running_loop()
        failures = 0
        while not self.stopping.is_set():
            started = loop.time()
            failure = await self._run_worker()
            if failure is None or self.stopping.is_set():
                break
            failures = 1 if loop.time() - started > RAN_WELL_S else failures + 1
            await self.pause(
                failures, "Redis unavailable: a new arq worker starts after a pause", failure
            )
        await self._finish_leftover_jobs()

    async def pause(self, failures: int, what: str, failure: BaseException) -> None:
        """Wait before trying again after `failures` failures in a row, or until stopped."""
        pause = delay_s(RESTART_SCHEDULE_S, failures, None, (0.0, 0.0), self.rng)
        log.warning(what, pause_s=round(pause, 2), error=repr(failure))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), pause)

    async def _run_worker(self) -> RedisError | OSError | None:
        """Run a new arq worker to its end; the Redis failure that ended it, if one did."""
        worker = create_worker(
            WorkerSettings,  # type: ignore[arg-type]
            redis_pool=self.ctx["redis"],
            ctx=self.ctx,
            # Started afresh: send_due runs at once, and no second missed while Redis was
            # away is run late.
            cron_jobs=[dataclasses.replace(job, next_run=None) for job in WorkerSettings.cron_jobs],
            # Started and shut down once for the process, not once per worker (see serve).
            on_startup=None,
            on_shutdown=None,
            handle_signals=False,
            job_completion_wait=self.settings.worker_shutdown_grace_s,
        )
        self.worker = worker
        main = worker.main_task = asyncio.create_task(worker.main())
        await asyncio.wait([main])
        self._keep_leftover_jobs(worker)
        if main.cancelled():  # stopped (see stop)
            return None
        failure = main.exception()
        if failure is None or isinstance(failure, RedisError | OSError):
            return failure
        raise failure

    def _keep_leftover_jobs(self, worker: Worker) -> None:
        for task in worker.tasks.values():
            task.add_done_callback(self._forget_job)
            if not task.done():
                self.leftover_jobs.add(task)

    def _forget_job(self, task: asyncio.Task[Any]) -> None:
        self.leftover_jobs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A job's own failure is arq's to record; this is arq failing to record its end.
            log.info("a job's end was not recorded in Redis", error=repr(task.exception()))

    async def _finish_leftover_jobs(self) -> None:
        """Wait for ended workers' jobs as arq does for its own: up to the grace period,
        then cancel them."""
        if not self.leftover_jobs:
            return
        _, late = await asyncio.wait(
            set(self.leftover_jobs), timeout=self.settings.worker_shutdown_grace_s
        )
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


async def serve(settings: Settings) -> None:
    redis = await queue.connect(settings.redis_url)
    ctx: dict[str, Any] = {"settings": settings, "redis": redis}
    supervisor = Supervisor(settings, ctx)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, supervisor.stop, signum)
    if not await _start_up(ctx, supervisor):
        await redis.aclose()
        return  # told to stop before PostgreSQL answered
    # Alive from here (service/health/workers.py): /readyz counts it, --health checks it.
    member = worker_health.worker_id()
    beating = asyncio.create_task(heartbeat.beat_forever(redis, member))
    try:
        await supervisor.run()
    finally:
        await heartbeat.stop_beating(redis, member, beating)
        if supervisor.worker is not None:
            with contextlib.suppress(RedisError, OSError):
                await redis.delete(supervisor.worker.health_check_key)
        await shutdown(ctx)
        await redis.aclose()


async def _start_up(ctx: dict[str, Any], supervisor: Supervisor) -> bool:
    """PostgreSQL, provider clients, dispatcher (nothing here needs Redis): tried again with
    the same pauses as a worker while PostgreSQL does not answer, so a worker started during a
    database outage waits for it rather than exiting. False when stopped first."""
    failures = 0
    while not supervisor.stopping.is_set():
        try:
            await startup(ctx)
        except db.UNAVAILABLE_ERRORS as exc:
            if not db.is_unavailable(exc):
                raise
            failures += 1
            await supervisor.pause(
                failures, "PostgreSQL unavailable at start-up: trying again after a pause", exc
            )
        else:
            return True
    return False


def main(argv: list[str] | None = None) -> None:
    """`python -m workers`: run a worker. `python -m workers --health`: exit 0 when a worker of
    this host (container) beat its heartbeat within the last few seconds, else 1 (for a
    container's health check)."""
    args = sys.argv[1:] if argv is None else argv
    settings = load_settings(os.environ)
    if args == ["--health"]:
        sys.exit(0 if asyncio.run(heartbeat.healthy(settings)) else 1)
    if args:
        sys.exit(f"usage: python -m workers [--health]; not {' '.join(args)!r}")
    freeze_startup_heap()
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
