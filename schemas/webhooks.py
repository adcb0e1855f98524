"""Wire contracts of the Webhooks resource (ext): endpoints, their deliveries and tries."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.common import Pagination
from schemas.events import EVENT_TYPES

MAX_URL_LENGTH = 2048
MAX_ENDPOINTS_PER_ACCOUNT = 20

DeliveryStatus = Literal["PENDING", "SUCCEEDED", "FAILED"]

_EVENT_TYPES_TEXT = "Any of: " + ", ".join(EVENT_TYPES) + " (at least one, no repeats)."


class WebhookCreate(msgspec.Struct, kw_only=True, rename="camel"):
    url: Annotated[
        str,
        msgspec.Meta(
            description="An https URL (at most 2,048 characters) whose host is not a private, "
            "loopback or link-local address.",
            examples=["https://hooks.example.com/comms"],
        ),
    ]
    event_types: Annotated[
        list[str],
        msgspec.Meta(
            description=_EVENT_TYPES_TEXT,
            examples=[["com.twilio.comms-api.message.delivered"]],
        ),
    ]


class WebhookRead(msgspec.Struct, rename="camel"):
    """A webhook endpoint: every event of these types of the account's operations is POSTed."""

    id: Annotated[str, msgspec.Meta(examples=["comms_webhook_01m8h0jzqsechs3yv6kh2qxj5m"])]
    url: str
    event_types: list[str]
    created_at: str


class WebhookCreated(WebhookRead, rename="camel"):
    """The new endpoint with its signing secret, shown this once."""

    secret: Annotated[
        str,
        msgspec.Meta(
            description="Standard Webhooks signing secret: `whsec_` + base64 of the HMAC-SHA256 "
            "key. Each delivery carries `webhook-signature: v1,<base64 HMAC-SHA256 of "
            '"{webhook-id}.{webhook-timestamp}.{body}">`.',
            examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        ),
    ]


class WebhooksPage(msgspec.Struct):
    webhooks: list[WebhookRead]
    pagination: Pagination


class DeliveryAttemptRead(msgspec.Struct, rename="camel"):
    """One try: what the endpoint answered, or why there was no answer."""

    attempted_at: str
    status_code: Annotated[
        int | None, msgspec.Meta(description="The HTTP status; null when no answer came.")
    ]
    error: Annotated[
        str | None,
        msgspec.Meta(description="Why the try failed without an answer (refused, timeout …)."),
    ]
    response_body: Annotated[str | None, msgspec.Meta(description="The answer's first 1 KiB.")]
    duration_ms: int


class DeliveryRead(msgspec.Struct, rename="camel"):
    """One event sent to one endpoint: tried until a 2xx answer, with backoff, for 24 h."""

    id: Annotated[str, msgspec.Meta(examples=["comms_delivery_01m8h0jzqsechs3yv6kh2qxj5m"])]
    event_id: Annotated[str, msgspec.Meta(description="The CloudEvent's `id`.")]
    event_type: str
    operation_id: str
    status: DeliveryStatus
    tries: int
    next_try_at: Annotated[
        str | None, msgspec.Meta(description="When the next try is due; null once finished.")
    ]
    retry_until: str
    created_at: str
    updated_at: str
    attempts: list[DeliveryAttemptRead]


class DeliveriesPage(msgspec.Struct):
    deliveries: list[DeliveryRead]
    pagination: Pagination
