"""Profile imports: the worker's side (service/profiles/imports.py holds the rules)."""

from __future__ import annotations

from typing import Any

import msgspec
import structlog

from schemas.jobs import ImportProfiles
from service import request_ids, tracing
from service.clock import system_clock
from service.profiles import imports

log = structlog.get_logger(__name__)

# One run loads chunks for at most this long (well inside the jobs' timeout); what is left
# waits for the next run, a second later at most.
RUN_BUDGET_S = 120.0
JOB_TIMEOUT_S = 300


async def import_profiles(ctx: dict[str, Any], payload: dict[str, Any]) -> int:
    """Start loading a newly accepted import now rather than at the next tick."""
    job = msgspec.convert(payload, ImportProfiles)
    with request_ids.bound(job.request_id):
        log.info("importing profiles", import_id=job.import_id)
        return await imports.run_imports(
            ctx["pool"], ctx.get("clock") or system_clock, RUN_BUDGET_S
        )


async def resume_imports(ctx: dict[str, Any]) -> int:
    """Every second: imports with rows still staged (a worker stopped mid-import, a job lost
    with Redis)."""
    with tracing.untraced(ctx.get("tracing")):
        return await imports.run_imports(
            ctx["pool"], ctx.get("clock") or system_clock, RUN_BUDGET_S
        )
