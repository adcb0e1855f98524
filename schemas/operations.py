"""Wire contracts of the Operations resource."""

from __future__ import annotations

from typing import Literal

import msgspec

from schemas.common import Tags

OperationStatus = Literal["SCHEDULED", "PROCESSING", "COMPLETED", "CANCELED"]


class OperationStats(msgspec.Struct):
    """The eight status counts always sum to `total`."""

    total: int
    recipients: int
    attempts: int
    unaddressable: int
    scheduled: int
    queued: int
    sent: int
    delivered: int
    read: int
    undelivered: int
    failed: int
    canceled: int


class OperationRead(msgspec.Struct, rename="camel"):
    id: str
    status: OperationStatus
    tags: Tags
    stats: OperationStats
    created_at: str
    updated_at: str
