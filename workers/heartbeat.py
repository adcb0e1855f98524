"""The worker's heartbeat (service/health/workers.py): beaten from the worker's event loop
every BEAT_EVERY_S, whatever its jobs do, while the process runs; and `--health`, the check a
container runs (exit 0 while a worker of this host is alive, else 1)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from service import queue
from service.health import workers
from service.settings import Settings

log = structlog.get_logger(__name__)


async def beat_forever(redis: Redis, member: str, every_s: float = workers.BEAT_EVERY_S) -> None:
    """Beat until cancelled; a beat Redis does not take is logged and the next one tried (the
    worker carries on without Redis, and so does its heartbeat)."""
    failing = False
    while True:
        try:
            async with asyncio.timeout(every_s):
                await workers.beat(redis, member)
        except (RedisError, OSError, TimeoutError) as exc:
            if not failing:
                log.warning("worker heartbeat not recorded: Redis unavailable", error=repr(exc))
            failing = True
        else:
            failing = False
        await asyncio.sleep(every_s)


async def stop_beating(redis: Redis, member: str, beating: asyncio.Task[None]) -> None:
    beating.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await beating
    with contextlib.suppress(RedisError, OSError, TimeoutError):
        async with asyncio.timeout(queue.COMMAND_TIMEOUT_S):
            await workers.leave(redis, member)


async def healthy(settings: Settings) -> bool:
    """Whether a worker of this host beat recently."""
    redis = await queue.connect(settings.redis_url)
    try:
        async with asyncio.timeout(queue.COMMAND_TIMEOUT_S):
            return bool(await workers.alive(redis, workers.host_prefix()))
    except (RedisError, OSError, TimeoutError):
        return False
    finally:
        await redis.aclose()
