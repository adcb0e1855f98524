"""Wire contracts of events (ext): CloudEvents 1.0 bodies of webhooks, statusCallbacks and SSE."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.common import MessageId, OperationId, RenderedTags, Timestamp, Url

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
EVENT_DESCRIPTIONS: dict[str, str] = {
    "com.twilio.comms-api.operation.scheduled": "The operation was accepted with nothing due "
    "yet: every message waits for its `sendAt`.",
    "com.twilio.comms-api.operation.processing": "The operation has messages to send now (at "
    "once for a send without a schedule; when the first scheduled message is due).",
    "com.twilio.comms-api.operation.completed": "Every message of the operation has been "
    "processed: handed to a provider at least once, or finished without that.",
    "com.twilio.comms-api.operation.canceled": "The operation was canceled: its messages not "
    "yet handed to a provider are CANCELED.",
    "com.twilio.comms-api.message.queued": "The message is QUEUED: accepted and due now (or "
    "a scheduled one became due), waiting for its sender's rate.",
    "com.twilio.comms-api.message.sent": "The provider sent the message to the carrier.",
    "com.twilio.comms-api.message.delivered": "The message reached the handset.",
    "com.twilio.comms-api.message.undelivered": "The carrier could not deliver the message "
    "(`error_code` says why).",
    "com.twilio.comms-api.message.failed": "The message failed, at the provider or before "
    "reaching one (`error_code` says why).",
    "com.twilio.comms-api.message.read": "The recipient read the message (WhatsApp, "
    "Conversations).",
}


class OperationEventData(msgspec.Struct):
    """`data` of an operation.* event."""

    operation_id: Annotated[OperationId, msgspec.Meta(description="The operation's id.")]


class EventAddress(msgspec.Struct):
    """An address and its channel: the sender's (SMS, WHATSAPP, CONVERSATIONS) in `from`, the
    recipient's (PHONE, WHATSAPP, CONVERSATIONS) in `to`."""

    address: Annotated[
        str, msgspec.Meta(description="The number or sender id.", examples=["+15558675310"])
    ]
    channel: Annotated[
        str,
        msgspec.Meta(
            description="The channel.",
            examples=["PHONE"],
            extra_json_schema={"enum": ["SMS", "PHONE", "WHATSAPP", "CONVERSATIONS"]},
        ),
    ]


class MessageEventData(msgspec.Struct):
    """`data` of a message.* event: the message on the route (channel) it is on at the time."""

    operation_id: Annotated[OperationId, msgspec.Meta(description="The operation's id.")]
    message_id: Annotated[MessageId, msgspec.Meta(description="The message's id.")]
    downstream_id: Annotated[
        str | None,
        msgspec.Meta(
            description="The provider's id of the attempt (SM…, IM…), once it has one.",
            examples=["SM0123456789abcdef0123456789abcdef"],
        ),
    ]
    attempt: Annotated[
        int,
        msgspec.Meta(
            description="Provider attempts made for the message so far (0: none).", examples=[1]
        ),
    ]
    error_code: Annotated[
        int | None,
        msgspec.Meta(
            description="The message's error code on undelivered and failed; else null.",
            examples=[30003],
        ),
    ]
    from_: Annotated[
        EventAddress | None, msgspec.Meta(description="The sender; null before one is chosen.")
    ] = msgspec.field(name="from")
    to: Annotated[EventAddress | None, msgspec.Meta(description="The recipient's address.")] = None
    tags: Annotated[RenderedTags | None, msgspec.Meta(description="The message's tags.")] = None


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
    source: Annotated[Url, msgspec.Meta(description="The operation's URL.")]
    type: Annotated[
        str,
        msgspec.Meta(
            description="The event type.",
            examples=["com.twilio.comms-api.message.delivered"],
            extra_json_schema={"enum": list(EVENT_TYPES)},
        ),
    ]
    time: Annotated[Timestamp, msgspec.Meta(description="When it happened.")]
    # Required (no defaults): omit_defaults would leave them out of the JSON.
    specversion: Annotated[
        Literal["1.0"], msgspec.Meta(description="CloudEvents 1.0.", examples=["1.0"])
    ]
    datacontenttype: Annotated[
        Literal["application/json"],
        msgspec.Meta(description="`data` is JSON.", examples=["application/json"]),
    ]
    subject: Annotated[
        MessageId | None, msgspec.Meta(description="The message id of a message.* event.")
    ] = None
    requestid: Annotated[
        str | None,
        msgspec.Meta(
            description="Extension attribute: the X-Request-Id of the send that created the "
            "operation (the caller's own, or the one the API answered with).",
            examples=["req_01m8h0jzqsechs3yv6kh2qxj5m"],
        ),
    ] = None
    traceparent: Annotated[
        str | None,
        msgspec.Meta(
            description="Extension attribute (CloudEvents distributed tracing): the W3C trace "
            "context of that send, when tracing was on.",
            examples=["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
        ),
    ] = None


class OperationCloudEvent(CloudEventEnvelope, kw_only=True, omit_defaults=True):
    """An operation.* event: the operation became SCHEDULED, PROCESSING, COMPLETED or
    CANCELED."""

    type: Annotated[
        str,
        msgspec.Meta(
            description="The event type.",
            examples=["com.twilio.comms-api.operation.completed"],
            extra_json_schema={"enum": list(OPERATION_EVENT_TYPES)},
        ),
    ]
    data: Annotated[OperationEventData, msgspec.Meta(description="The operation.")]


class MessageCloudEvent(CloudEventEnvelope, kw_only=True, omit_defaults=True):
    """A message.* event: a message (or its current attempt) changed status."""

    type: Annotated[
        str,
        msgspec.Meta(
            description="The event type.",
            examples=["com.twilio.comms-api.message.delivered"],
            extra_json_schema={"enum": list(MESSAGE_EVENT_TYPES)},
        ),
    ]
    data: Annotated[MessageEventData, msgspec.Meta(description="The message.")]


CloudEvent = OperationCloudEvent | MessageCloudEvent
