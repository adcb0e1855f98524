"""Worker liveness: every worker process beats a heartbeat into Redis; /readyz counts the live
ones and `python -m workers --health` checks its own host's.

The heartbeats are one sorted set (WORKERS_KEY): member `<host>:<pid>`, score the time of its
last beat, read from Redis's own clock (TIME), so machines whose clocks disagree agree on who
is alive. A worker is alive while its last beat is less than ALIVE_FOR_S old: it beats every
BEAT_EVERY_S from its event loop, so a process that is gone, hung, or cut off from Redis stops
counting within ALIVE_FOR_S. A worker that stops cleanly takes its member out at once.
"""

from __future__ import annotations

import os
import socket

from redis.asyncio import Redis

WORKERS_KEY = "comms:workers"
BEAT_EVERY_S = 5.0
ALIVE_FOR_S = 15.0
# Members of workers long gone are dropped by the next beat.
FORGET_AFTER_S = 24 * 3600.0


def worker_id() -> str:
    """This process's member: its host (a container's own name) and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def host_prefix() -> str:
    return f"{socket.gethostname()}:"


async def _redis_now(redis: Redis) -> float:
    seconds, microseconds = await redis.time()
    return float(seconds) + float(microseconds) / 1_000_000


async def beat(redis: Redis, member: str) -> None:
    """Record that `member` is alive now."""
    now = await _redis_now(redis)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(WORKERS_KEY, {member: now})
        pipe.zremrangebyscore(WORKERS_KEY, "-inf", now - FORGET_AFTER_S)
        await pipe.execute()


async def leave(redis: Redis, member: str) -> None:
    """`member` stops: it no longer counts as alive."""
    await redis.zrem(WORKERS_KEY, member)


async def alive(redis: Redis, prefix: str = "") -> list[str]:
    """The workers whose last beat is recent, those whose member starts with `prefix`."""
    now = await _redis_now(redis)
    members: list[bytes] = await redis.zrangebyscore(WORKERS_KEY, now - ALIVE_FOR_S, "+inf")
    return [m.decode() for m in members if m.decode().startswith(prefix)]
