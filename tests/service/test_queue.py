"""The dispatch hint as arq reads it: one atomic script writes the job, once per operation."""

from __future__ import annotations

import uuid

from arq.jobs import Job, JobStatus
from redis.asyncio import Redis

from schemas.jobs import DISPATCH_JOB
from service import queue
from tests.support.servers import Servers


async def test_a_dispatch_job_is_written_as_arq_reads_it_and_only_once(
    servers: Servers, redis: Redis
) -> None:
    arq_redis = await queue.connect(servers.redis_url)
    try:
        operation_id = uuid.uuid4()
        await queue.enqueue_dispatch(arq_redis, operation_id)
        await queue.enqueue_dispatch(arq_redis, operation_id)  # still pending: no second job
        await queue.enqueue_dispatch(arq_redis, uuid.uuid4())
        job_id = f"dispatch:{operation_id}"
        queued = await redis.zrange(arq_redis.default_queue_name, 0, -1)
        assert len(queued) == 2
        assert job_id.encode() in queued
        job = Job(job_id, arq_redis, _deserializer=arq_redis.job_deserializer)
        assert await job.status() == JobStatus.queued
        info = await job.info()
        assert info is not None
        assert info.function == DISPATCH_JOB
        assert info.args[0]["operation_id"] == str(operation_id)
        # Expires like arq's own jobs: a day after it was due.
        ttl_ms = await redis.pttl(f"arq:job:{job_id}")
        assert 0 < ttl_ms <= arq_redis.expires_extra_ms
    finally:
        await arq_redis.aclose()
