"""`python -m workers`: one arq worker process.

SIGTERM and SIGINT stop it gracefully: the dispatcher stops sending at once (calls already
made are answered and recorded; claimed messages not sent yet are given back, due now for
another worker), then arq waits up to WORKER_SHUTDOWN_GRACE_S for running jobs and exits.
"""

from __future__ import annotations

import functools
import os
import signal

from arq.worker import Worker, create_worker

from service import queue
from service.gc_tuning import freeze_startup_heap
from service.settings import load_settings
from workers.settings import WorkerSettings


def _stop(worker: Worker, signum: signal.Signals) -> None:
    dispatcher = worker.ctx.get("dispatcher")
    if dispatcher is not None:
        dispatcher.stop()
    worker.handle_sig_wait_for_completion(signum)


def main() -> None:
    settings = load_settings(os.environ)
    freeze_startup_heap()
    worker = create_worker(
        WorkerSettings,  # type: ignore[arg-type]
        redis_settings=queue.redis_settings(settings.redis_url),
        ctx={"settings": settings},
        job_completion_wait=settings.worker_shutdown_grace_s,
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        worker.loop.add_signal_handler(signum, functools.partial(_stop, worker, signum))
    worker.run()


if __name__ == "__main__":
    main()
