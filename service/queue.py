"""The job queue (arq on Redis): connection settings and the msgspec job serializer."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from arq.connections import ArqRedis, RedisSettings, create_pool

from schemas.jobs import DispatchOperation

DISPATCH_JOB = "dispatch_operation"


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
    return await create_pool(
        redis_settings(url), job_serializer=serialize_job, job_deserializer=deserialize_job
    )


async def enqueue_dispatch(redis: ArqRedis, operation_id: uuid.UUID) -> None:
    payload = msgspec.to_builtins(DispatchOperation(operation_id=str(operation_id)))
    # One pending dispatch per operation is enough: the job sends everything due in it.
    await redis.enqueue_job(DISPATCH_JOB, payload, _job_id=f"dispatch:{operation_id}")
