"""Wire contracts of the Operations resource."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.common import Pagination, Tags
from schemas.messages import AddressOut, ErrorDetail

OperationStatus = Literal["SCHEDULED", "PROCESSING", "COMPLETED", "CANCELED"]

OPERATION_STATUS_FILTER_TEXT = "SCHEDULED, PROCESSING, COMPLETED or CANCELED (any case)."


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


class OperationRead(msgspec.Struct, rename="camel", omit_defaults=True):
    id: str
    status: OperationStatus
    tags: Tags
    stats: OperationStats
    created_at: str
    updated_at: str
    status_callback: Annotated[
        str | None,
        msgspec.Meta(description="(ext) The send's statusCallback URL; absent when none."),
    ] = None


class OperationsPage(msgspec.Struct):
    operations: list[OperationRead]
    pagination: Pagination


class CancelOperationAccepted(msgspec.Struct, rename="camel"):
    """The canceled operation: its id and URL (also in the `Location` header)."""

    resource_id: str
    resource_location: str


class OperationError(msgspec.Struct, rename="camel"):
    """A FAILED or UNDELIVERED message of the operation and why (`error` null when unknown)."""

    message_id: str
    status: Literal["FAILED", "UNDELIVERED"]
    to: list[AddressOut]
    error: ErrorDetail | None
    updated_at: str


class ErrorCodeCount(msgspec.Struct):
    """How many of the operation's FAILED and UNDELIVERED messages carry this code."""

    code: int | None
    count: int


class OperationErrorsPage(msgspec.Struct):
    """One page of the operation's errors, newest first; `counts` covers all of them."""

    errors: list[OperationError]
    counts: list[ErrorCodeCount]
    pagination: Pagination
