"""The job queue (arq on Redis): the client, the msgspec job serializer, dispatch hints.

Redis holds nothing PostgreSQL does not: a send is stored before its dispatch job is enqueued,
and the job only says "start now"; without it the workers' send_due finds the send within a
second. So a Redis that is down, flushed or hung never fails a request: every call is bounded
in time, and a dispatch job that cannot be enqueued is skipped (service.outages logs it).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
from arq.connections import ArqRedis, RedisSettings
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job as arq_serialize_job
from arq.utils import timestamp_ms
from redis.exceptions import RedisError

from schemas.jobs import DISPATCH_JOB, DispatchOperation
from service import request_ids, tracing
from service.outages import OutageLog

# Every Redis call of the API and the workers: opening a connection, and one command's answer.
# redis-py waits without end by default; these turn a hung Redis into errors.
CONNECT_TIMEOUT_S = 2.0
COMMAND_TIMEOUT_S = 5.0
# A dispatch job is a hint: a request waits no longer than this for it (one round trip).
HINT_TIMEOUT_S = 0.5

# arq's enqueue_job in one atomic script, one round trip instead of three (WATCH, EXISTS, then
# MULTI/EXEC): no job is written while one with the same id is pending or has a result kept.
# KEYS: the job's key, its result's key, the queue. ARGV: expiry (ms), the job, score, job id.
_ENQUEUE_ONCE = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


def _fallback(value: Any) -> Any:
    # arq stores a failed job's exception as its result; keep its text, not the object.
    if isinstance(value, BaseException):
        return repr(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_encoder = msgspec.msgpack.Encoder(enc_hook=_fallback)
_decoder = msgspec.msgpack.Decoder()


def serialize_job(job: dict[str, Any]) -> bytes:
    return _encoder.encode(job)


def deserialize_job(data: bytes) -> dict[str, Any]:
    job: dict[str, Any] = _decoder.decode(data)
    return job


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


async def connect(url: str) -> ArqRedis:
    """The process's Redis client. It connects on first use (and again after Redis restarts),
    so a process starts, and keeps running, while Redis is away."""
    redis: ArqRedis = ArqRedis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=COMMAND_TIMEOUT_S
    )
    redis.job_serializer = serialize_job
    redis.job_deserializer = deserialize_job
    return redis


async def enqueue_dispatch(redis: ArqRedis, operation_id: uuid.UUID) -> None:
    """Enqueue the operation's dispatch job, with the request id and trace context of the
    work that asked for it."""
    job = DispatchOperation(
        operation_id=str(operation_id),
        request_id=request_ids.current(),
        traceparent=tracing.traceparent(),
    )
    payload = msgspec.to_builtins(job)
    # One pending dispatch per operation is enough: the job sends everything due in it. Written
    # as arq's enqueue_job writes it (the same keys, serializer, score and expiry).
    job_id = f"dispatch:{operation_id}"
    now_ms = timestamp_ms()
    data = arq_serialize_job(
        DISPATCH_JOB, (payload,), {}, None, now_ms, serializer=redis.job_serializer
    )
    enqueue_once = redis.register_script(_ENQUEUE_ONCE)
    await enqueue_once(
        keys=[job_key_prefix + job_id, result_key_prefix + job_id, redis.default_queue_name],
        args=[redis.expires_extra_ms, data, now_ms, job_id],
    )


async def hint_dispatch(redis: ArqRedis, operation_id: uuid.UUID, outages: OutageLog) -> None:
    """Enqueue the operation's dispatch job if Redis takes it within HINT_TIMEOUT_S; else carry
    on without it (send_due sends the operation's due messages anyway)."""
    try:
        async with asyncio.timeout(HINT_TIMEOUT_S):
            await enqueue_dispatch(redis, operation_id)
    except (RedisError, OSError, TimeoutError) as exc:
        outages.failed("dispatch job not enqueued", exc)
    else:
        outages.answered()
