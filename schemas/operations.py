"""Wire contracts of the Operations resource."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.common import MessageId, OperationId, Paging, Tags, Timestamp, Url
from schemas.messages import AddressOut, ErrorDetail

OperationStatus = Literal["SCHEDULED", "PROCESSING", "COMPLETED", "CANCELED"]

OPERATION_STATUS_FILTER_TEXT = "SCHEDULED, PROCESSING, COMPLETED or CANCELED (any case)."


def _count(description: str, example: int) -> msgspec.Meta:
    return msgspec.Meta(
        description=description, examples=[example], extra_json_schema={"minimum": 0}
    )


class OperationStats(msgspec.Struct):
    """Exact counts of the operation's messages: the eight status counts always sum to
    `total`; they keep changing after COMPLETED as receipts (and fallback attempts) arrive."""

    total: Annotated[int, _count("Messages of the operation (one per recipient).", 3)]
    recipients: Annotated[int, _count("Recipients of the send.", 3)]
    attempts: Annotated[int, _count("Hand-overs to a provider so far, fallbacks included.", 2)]
    unaddressable: Annotated[
        int, _count("Messages no sender of the send could reach (FAILED, 90020).", 0)
    ]
    scheduled: Annotated[int, _count("Messages SCHEDULED.", 0)]
    queued: Annotated[int, _count("Messages QUEUED (ours, or the provider's queue).", 1)]
    sent: Annotated[int, _count("Messages SENT.", 1)]
    delivered: Annotated[int, _count("Messages DELIVERED.", 1)]
    read: Annotated[int, _count("Messages READ.", 0)]
    undelivered: Annotated[int, _count("Messages UNDELIVERED.", 0)]
    failed: Annotated[int, _count("Messages FAILED.", 0)]
    canceled: Annotated[int, _count("Messages CANCELED.", 0)]


class OperationRead(msgspec.Struct, rename="camel", omit_defaults=True):
    """One send and the progress of its messages."""

    id: Annotated[OperationId, msgspec.Meta(description="The operation's id.")]
    status: Annotated[
        OperationStatus,
        msgspec.Meta(
            title="OperationStatus",
            description="SCHEDULED (nothing due yet) → PROCESSING → COMPLETED once every "
            "message has been processed, or CANCELED; it never goes back.",
            examples=["PROCESSING"],
        ),
    ]
    tags: Annotated[Tags, msgspec.Meta(description="The send's tags, as sent.")]
    stats: Annotated[OperationStats, msgspec.Meta(description="Its messages by status.")]
    created_at: Annotated[Timestamp, msgspec.Meta(description="When the send was accepted.")]
    updated_at: Annotated[Timestamp, msgspec.Meta(description="When its status last changed.")]
    status_callback: Annotated[
        str | None,
        msgspec.Meta(
            description="(ext) The send's statusCallback URL; absent when none.",
            examples=["https://hooks.example.com/operations"],
            extra_json_schema={"format": "uri"},
        ),
    ] = None


class OperationsPage(msgspec.Struct):
    """A page of operations, newest first."""

    operations: Annotated[list[OperationRead], msgspec.Meta(description="The page's operations.")]
    pagination: Paging


class CancelOperationAccepted(msgspec.Struct, rename="camel"):
    """The canceled operation: its id and URL (also in the `Location` header)."""

    resource_id: Annotated[OperationId, msgspec.Meta(description="The operation's id.")]
    resource_location: Annotated[Url, msgspec.Meta(description="The operation's URL.")]


class OperationError(msgspec.Struct, rename="camel"):
    """A FAILED or UNDELIVERED message of the operation and why (`error` null when unknown)."""

    message_id: Annotated[MessageId, msgspec.Meta(description="The message's id.")]
    status: Annotated[
        Literal["FAILED", "UNDELIVERED"],
        msgspec.Meta(description="FAILED or UNDELIVERED.", examples=["FAILED"]),
    ]
    to: Annotated[list[AddressOut], msgspec.Meta(description="The address it went to.")]
    error: Annotated[
        ErrorDetail | None,
        msgspec.Meta(description="Its error code and message; null when the provider gave none."),
    ]
    updated_at: Annotated[Timestamp, msgspec.Meta(description="When it failed.")]


class ErrorCodeCount(msgspec.Struct):
    """How many of the operation's FAILED and UNDELIVERED messages carry this code."""

    code: Annotated[
        int | None,
        msgspec.Meta(
            description="The error code; null when the provider gave none.", examples=[21211]
        ),
    ]
    count: Annotated[int, msgspec.Meta(description="How many messages carry it.", examples=[3])]


class OperationErrorsPage(msgspec.Struct):
    """One page of the operation's errors, newest first; `counts` covers all of them."""

    errors: Annotated[list[OperationError], msgspec.Meta(description="The page's failed messages.")]
    counts: Annotated[
        list[ErrorCodeCount],
        msgspec.Meta(
            description="FAILED and UNDELIVERED messages per error code over the whole "
            "operation, most frequent first (the same on every page)."
        ),
    ]
    pagination: Paging
