"""Payloads of background jobs (encoded with msgspec, never pickled)."""

from __future__ import annotations

import msgspec

# The arq job that starts sending an operation now: the name the API enqueues and the worker
# registers its function under.
DISPATCH_JOB = "dispatch_operation"


class DispatchOperation(msgspec.Struct, frozen=True, omit_defaults=True):
    """Hand the due messages of one operation to providers."""

    operation_id: str
    # The request that enqueued it: its X-Request-Id (the job's log lines carry it) and its W3C
    # trace context (the job's span is its child). Absent from jobs enqueued before they were.
    request_id: str | None = None
    traceparent: str | None = None


# The arq job that starts loading a profile import's staged rows now (workers also find
# imports left to load every second without it).
IMPORT_PROFILES_JOB = "import_profiles"


class ImportProfiles(msgspec.Struct, frozen=True, omit_defaults=True):
    """Load the staged rows of profile imports (this one first in line or not: any will do)."""

    import_id: str
    request_id: str | None = None
