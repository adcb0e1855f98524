"""Payloads of background jobs (encoded with msgspec, never pickled)."""

from __future__ import annotations

import msgspec

# The arq job that starts sending an operation now: the name the API enqueues and the worker
# registers its function under.
DISPATCH_JOB = "dispatch_operation"


class DispatchOperation(msgspec.Struct, frozen=True):
    """Hand the due messages of one operation to providers."""

    operation_id: str
