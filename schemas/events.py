"""Wire contracts of events (ext): CloudEvents 1.0 bodies of webhooks, statusCallbacks and SSE."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.common import Tags

EVENT_TYPE_PREFIX = "com.twilio.comms-api."
OPERATION_EVENT_TYPES = (
    "com.twilio.comms-api.operation.scheduled",
    "com.twilio.comms-api.operation.processing",
    "com.twilio.comms-api.operation.completed",
    "com.twilio.comms-api.operation.canceled",
)
MESSAGE_EVENT_TYPES = (
    "com.twilio.comms-api.message.queued",
    "com.twilio.comms-api.message.sent",
    "com.twilio.comms-api.message.delivered",
    "com.twilio.comms-api.message.undelivered",
    "com.twilio.comms-api.message.failed",
    "com.twilio.comms-api.message.read",
)
EVENT_TYPES = OPERATION_EVENT_TYPES + MESSAGE_EVENT_TYPES


class OperationEventData(msgspec.Struct):
    """`data` of an operation.* event."""

    operation_id: Annotated[
        str, msgspec.Meta(examples=["comms_operation_01m8h0jzqsechs3yv6kh2qxj5m"])
    ]


class EventAddress(msgspec.Struct):
    address: str
    channel: str


class MessageEventData(msgspec.Struct):
    """`data` of a message.* event: the message on the route (channel) it is on at the time."""

    operation_id: str
    message_id: str
    downstream_id: Annotated[
        str | None,
        msgspec.Meta(description="The provider's id of the attempt (SM…, IM…), once it has one."),
    ]
    attempt: Annotated[
        int, msgspec.Meta(description="Provider attempts made for the message so far (0: none).")
    ]
    error_code: int | None
    from_: EventAddress | None = msgspec.field(name="from")
    to: EventAddress | None = None
    tags: Tags | None = None


class CloudEventEnvelope(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A CloudEvents 1.0 event in JSON (structured mode)."""

    id: Annotated[
        str,
        msgspec.Meta(
            description="The event's number: increasing in the order events happened; also the "
            "SSE `id:`.",
            examples=["4711"],
        ),
    ]
    source: Annotated[str, msgspec.Meta(description="The operation's URL.")]
    type: Annotated[str, msgspec.Meta(examples=["com.twilio.comms-api.message.delivered"])]
    time: str
    # Required (no defaults): omit_defaults would leave them out of the JSON.
    specversion: Literal["1.0"]
    datacontenttype: Literal["application/json"]
    subject: Annotated[
        str | None, msgspec.Meta(description="The message id of a message.* event.")
    ] = None


class OperationCloudEvent(CloudEventEnvelope, kw_only=True, omit_defaults=True):
    """An operation.* event."""

    data: OperationEventData


class MessageCloudEvent(CloudEventEnvelope, kw_only=True, omit_defaults=True):
    """A message.* event."""

    data: MessageEventData


CloudEvent = OperationCloudEvent | MessageCloudEvent
