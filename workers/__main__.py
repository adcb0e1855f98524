"""`python -m workers`: one arq worker process."""

from __future__ import annotations

import os

from arq import run_worker

from service import queue
from service.gc_tuning import freeze_startup_heap
from service.settings import load_settings
from workers.settings import WorkerSettings


def main() -> None:
    settings = load_settings(os.environ)
    freeze_startup_heap()
    run_worker(
        WorkerSettings,  # type: ignore[arg-type]
        redis_settings=queue.redis_settings(settings.redis_url),
        ctx={"settings": settings},
    )


if __name__ == "__main__":
    main()
