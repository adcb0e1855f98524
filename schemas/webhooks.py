"""Wire contracts of the Webhooks resource (ext): endpoints, their deliveries and tries."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.common import DeliveryId, OperationId, Paging, Timestamp, WebhookId
from schemas.events import EVENT_TYPES

MAX_URL_LENGTH = 2048
MAX_ENDPOINTS_PER_ACCOUNT = 20

DeliveryStatus = Literal["PENDING", "SUCCEEDED", "FAILED"]

_EVENT_TYPES_TEXT = "Any of: " + ", ".join(EVENT_TYPES) + " (at least one, no repeats)."
_EventType = Annotated[
    str,
    msgspec.Meta(
        title="EventType",
        examples=["com.twilio.comms-api.message.delivered"],
        extra_json_schema={"enum": list(EVENT_TYPES)},
    ),
]
_EventTypes = Annotated[
    list[_EventType],
    msgspec.Meta(
        description=_EVENT_TYPES_TEXT,
        examples=[["com.twilio.comms-api.message.delivered"]],
        extra_json_schema={"minItems": 1, "uniqueItems": True},
    ),
]
_Url = Annotated[
    str,
    msgspec.Meta(
        description="An https URL (at most 2,048 characters) whose host is not a private, "
        "loopback or link-local address.",
        examples=["https://hooks.example.com/comms"],
        extra_json_schema={"format": "uri", "maxLength": MAX_URL_LENGTH, "pattern": "^https://"},
    ),
]


class WebhookCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """An endpoint to register: its URL and the event types it gets (at most 20 an account)."""

    url: _Url
    event_types: _EventTypes


class WebhookRead(msgspec.Struct, rename="camel"):
    """A webhook endpoint: every event of these types of the account's operations is POSTed."""

    id: Annotated[WebhookId, msgspec.Meta(description="The endpoint's id.")]
    url: Annotated[
        str,
        msgspec.Meta(
            description="Where events are POSTed.",
            examples=["https://hooks.example.com/comms"],
            extra_json_schema={"format": "uri"},
        ),
    ]
    event_types: Annotated[list[_EventType], msgspec.Meta(description="The event types it gets.")]
    created_at: Annotated[Timestamp, msgspec.Meta(description="When it was registered.")]


class WebhookCreated(WebhookRead, rename="camel"):
    """The new endpoint with its signing secret, shown this once."""

    secret: Annotated[
        str,
        msgspec.Meta(
            description="Standard Webhooks signing secret: `whsec_` + base64 of the HMAC-SHA256 "
            "key. Each delivery carries `webhook-signature: v1,<base64 HMAC-SHA256 of "
            '"{webhook-id}.{webhook-timestamp}.{body}">`.',
            examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            extra_json_schema={"pattern": "^whsec_"},
        ),
    ]


class WebhooksPage(msgspec.Struct):
    """A page of webhook endpoints, newest first."""

    webhooks: Annotated[list[WebhookRead], msgspec.Meta(description="The page's endpoints.")]
    pagination: Paging


class DeliveryAttemptRead(msgspec.Struct, rename="camel"):
    """One try: what the endpoint answered, or why there was no answer."""

    attempted_at: Annotated[Timestamp, msgspec.Meta(description="When the POST was made.")]
    status_code: Annotated[
        int | None,
        msgspec.Meta(description="The HTTP status; null when no answer came.", examples=[200]),
    ]
    error: Annotated[
        str | None,
        msgspec.Meta(
            description="Why the try failed without an answer (refused, timeout …).",
            examples=["ConnectTimeout: timed out"],
        ),
    ]
    response_body: Annotated[
        str | None, msgspec.Meta(description="The answer's first 1 KiB.", examples=["ok"])
    ]
    duration_ms: Annotated[
        int, msgspec.Meta(description="How long the try took, in milliseconds.", examples=[42])
    ]


class DeliveryRead(msgspec.Struct, rename="camel"):
    """One event sent to one endpoint: tried until a 2xx answer, with backoff, for 24 h."""

    id: Annotated[DeliveryId, msgspec.Meta(description="The delivery's id.")]
    event_id: Annotated[str, msgspec.Meta(description="The CloudEvent's `id`.", examples=["4711"])]
    event_type: Annotated[_EventType, msgspec.Meta(description="The CloudEvent's `type`.")]
    operation_id: Annotated[OperationId, msgspec.Meta(description="The event's operation.")]
    status: Annotated[
        DeliveryStatus,
        msgspec.Meta(
            title="DeliveryStatus",
            description="PENDING (tried again until it succeeds or its window ends), "
            "SUCCEEDED (a 2xx answer) or FAILED (no 2xx answer within the window).",
            examples=["SUCCEEDED"],
        ),
    ]
    tries: Annotated[int, msgspec.Meta(description="Tries made so far.", examples=[1])]
    next_try_at: Annotated[
        Timestamp | None,
        msgspec.Meta(description="When the next try is due; null once finished."),
    ]
    retry_until: Annotated[
        Timestamp, msgspec.Meta(description="When the delivery stops being tried again.")
    ]
    created_at: Annotated[Timestamp, msgspec.Meta(description="When the event was fanned out.")]
    updated_at: Annotated[Timestamp, msgspec.Meta(description="When it last changed.")]
    attempts: Annotated[
        list[DeliveryAttemptRead], msgspec.Meta(description="Every try, oldest first.")
    ]


class DeliveriesPage(msgspec.Struct):
    """A page of deliveries, newest first, each with every try."""

    deliveries: Annotated[list[DeliveryRead], msgspec.Meta(description="The page's deliveries.")]
    pagination: Paging
