"""Wire contracts of the Messages resource: the send request, its answer, message reads.

Request Structs are lenient about values (enums are matched case-insensitively, limits are
checked by the service so that every problem is reported at once); the limits are stated in
the descriptions and constants here so the OpenAPI document and the checks agree.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import msgspec

from schemas.common import Pagination, Related, Tags

MAX_RECIPIENTS = 10_000
MAX_ADDRESSES = 10
MAX_VARIABLES = 50
MAX_TAGS = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
MAX_TEXT = 1_600
MAX_MEDIA = 10
VALIDITY_MIN = 1
VALIDITY_MAX = 36_000
VALIDITY_DEFAULT = 36_000

MessageStatus = Literal[
    "SCHEDULED", "QUEUED", "SENT", "DELIVERED", "READ", "UNDELIVERED", "FAILED", "CANCELED"
]
# An attempt is SUBMITTING from just before its provider call until the provider's answer is
# recorded; then it follows the provider's reports.
AttemptStatus = Literal[
    "SUBMITTING", "QUEUED", "SENT", "DELIVERED", "READ", "UNDELIVERED", "FAILED"
]
RecipientChannel = Literal["PHONE", "WHATSAPP", "CONVERSATIONS"]

# Filters of the message lists (GET /v1/Messages, POST /v1/Messages/Search).
MAX_TAG_FILTERS = 10
TAGS_FILTER_PATTERN = r"^(?:[a-zA-Z0-9._~-]+:[a-zA-Z0-9._~-]+;){1,10}$"
STATUS_FILTER_TEXT = (
    "SCHEDULED, QUEUED, SENT, DELIVERED, READ, UNDELIVERED, FAILED or CANCELED (any case)."
)
CHANNEL_FILTER_TEXT = "The recipient's channel: PHONE, WHATSAPP or CONVERSATIONS (any case)."
ADDRESS_FILTER_TEXT = (
    "(ext) Messages to this recipient address, E.164 (a `whatsapp:` prefix is ignored)."
)
START_DATE_TEXT = "Messages created at or after this RFC 3339 date-time (with an offset or Z)."
END_DATE_TEXT = "Messages created before this RFC 3339 date-time; must be later than startDate."
SenderChannel = Literal["SMS", "WHATSAPP", "CONVERSATIONS"]


class AddressIn(msgspec.Struct, kw_only=True):
    address: Annotated[str, msgspec.Meta(description="E.164, e.g. +15558675310.")]
    channel: Annotated[
        str, msgspec.Meta(description="PHONE, WHATSAPP or CONVERSATIONS (any case).")
    ]


class RecipientIn(msgspec.Struct, kw_only=True):
    """One recipient: `{address, channel}`, or `{addresses: [...]}` tried in order (fallback)."""

    address: str | None = None
    channel: str | None = None
    addresses: (
        Annotated[list[AddressIn], msgspec.Meta(description="1..10 addresses tried in order.")]
        | None
    ) = None
    variables: (
        Annotated[
            dict[str, str],
            msgspec.Meta(description="Template variables for this recipient, at most 50."),
        ]
        | None
    ) = None


class MediaIn(msgspec.Struct, kw_only=True):
    url: Annotated[str, msgspec.Meta(description="An https URL.")]


class ContentIn(msgspec.Struct, kw_only=True, rename="camel"):
    text: (
        Annotated[
            str,
            msgspec.Meta(description="Liquid template, at most 1,600 characters once rendered."),
        ]
        | None
    ) = None
    media: Annotated[list[MediaIn], msgspec.Meta(description="At most 10 items.")] | None = None
    content_id: (
        Annotated[str, msgspec.Meta(description="A provider content template (HX + 32 hex).")]
        | None
    ) = None


class SenderIn(msgspec.Struct, kw_only=True, rename="camel"):
    """`{address, channel}`, `{senderId}` or `{senderPoolId}`."""

    address: str | None = None
    channel: Annotated[str, msgspec.Meta(description="SMS, WHATSAPP or CONVERSATIONS.")] | None = (
        None
    )
    sender_id: str | None = None
    sender_pool_id: str | None = None


class ScheduleIn(msgspec.Struct, kw_only=True, rename="camel"):
    send_at: Annotated[
        list[str],
        msgspec.Meta(
            description=(
                "Exactly one RFC 3339 date-time. With an offset it is an instant; without one "
                "it is a local time in each recipient's time zone."
            )
        ),
    ]


class SendMessagesRequest(msgspec.Struct, kw_only=True, rename="camel"):
    to: Annotated[list[RecipientIn], msgspec.Meta(description="1..10,000 recipients.")]
    content: ContentIn
    from_: SenderIn | None = msgspec.field(default=None, name="from")
    schedule: ScheduleIn | None = None
    tags: (
        Annotated[
            Tags,
            msgspec.Meta(description="At most 10 pairs; key <= 128, value <= 256 characters."),
        ]
        | None
    ) = None
    validity_period: (
        Annotated[int, msgspec.Meta(description="Seconds, 1..36,000 (default 36,000).")] | None
    ) = None
    status_callback: (
        Annotated[
            str,
            msgspec.Meta(
                description="(ext) An https URL of a public host that receives this operation's "
                "events, as webhooks do (CloudEvents, Standard Webhooks signatures with the "
                "`statusCallbackSecret` of the answer, retries for 24 h).",
                examples=["https://hooks.example.com/operations"],
            ),
        ]
        | None
    ) = None


class SendMessagesAccepted(msgspec.Struct, rename="camel", omit_defaults=True):
    operation_id: str
    operation_location: str
    status_callback_secret: (
        Annotated[
            str,
            msgspec.Meta(
                description="(ext) With a `statusCallback`: the Standard Webhooks secret its "
                "deliveries are signed with (`whsec_…`)."
            ),
        ]
        | None
    ) = None


class AddressOut(msgspec.Struct):
    address: str
    channel: str


class SenderOut(msgspec.Struct, rename="camel", omit_defaults=True):
    address: str
    channel: str
    sender_id: str | None = None


class ErrorDetail(msgspec.Struct, rename="camel"):
    code: int
    message: str
    info_url: str


class AttemptRead(msgspec.Struct, rename="camel"):
    id: str
    channel: str
    from_: AddressOut = msgspec.field(name="from")
    to: list[AddressOut]
    status: AttemptStatus
    attempted_at: Annotated[str, msgspec.Meta(description="When the request went to the provider.")]
    updated_at: str
    segments: int | None
    error: ErrorDetail | None


class MessageContentOut(msgspec.Struct, rename="camel", omit_defaults=True):
    text: str | None = None
    media: list[MediaIn] | None = None
    content_id: str | None = None


class MessageRead(msgspec.Struct, rename="camel"):
    id: str
    operation_id: str
    from_: SenderOut | None = msgspec.field(name="from")
    to: list[AddressOut]
    status: MessageStatus
    related: list[Related]
    tags: Tags
    scheduled_for: str | None
    created_at: str
    updated_at: str
    deleted_at: str | None


class MessageDetail(MessageRead, rename="camel"):
    content: MessageContentOut | None
    attempts: list[AttemptRead]


class MessagesPage(msgspec.Struct):
    messages: list[MessageRead]
    pagination: Pagination


class SearchMessagesRequest(msgspec.Struct, kw_only=True, rename="camel"):
    """The filters of GET /v1/Messages in a JSON body; all optional, combined with AND.

    Unknown fields are ignored. Enum values are matched case-insensitively.
    """

    operation_id: (
        Annotated[str, msgspec.Meta(description="Messages of one operation (comms_operation_…).")]
        | None
    ) = None
    status: Annotated[str, msgspec.Meta(description=STATUS_FILTER_TEXT)] | None = None
    channel: Annotated[str, msgspec.Meta(description=CHANNEL_FILTER_TEXT)] | None = None
    address: Annotated[str, msgspec.Meta(description=ADDRESS_FILTER_TEXT)] | None = None
    tags: (
        Annotated[
            Tags,
            msgspec.Meta(
                description="Messages whose tags hold every one of these pairs (AND); "
                "at most 10 pairs."
            ),
        ]
        | None
    ) = None
    start_date: Annotated[str, msgspec.Meta(description=START_DATE_TEXT)] | None = None
    end_date: Annotated[str, msgspec.Meta(description=END_DATE_TEXT)] | None = None


# Dry run (POST /v1/Messages?dryRun=true) -----------------------------------------------------

DryRunStatus = Literal["QUEUED", "SCHEDULED", "FAILED"]


class TextEncoding(enum.Enum):
    """How a text is encoded in SMS: GSM-7 (160/153 a segment) or UCS-2 (70/67)."""

    GSM_7 = "GSM-7"
    UCS_2 = "UCS-2"


class DryRunRecipient(msgspec.Struct, rename="camel", kw_only=True):
    """What one recipient's message would be: rendered, counted, routed and timed."""

    position: Annotated[int, msgspec.Meta(description="The recipient's index in `to`.")]
    to: Annotated[
        AddressOut,
        msgspec.Meta(description="The address and channel chosen (the first one tried)."),
    ]
    from_: (
        Annotated[SenderOut, msgspec.Meta(description="The sender chosen for that address.")] | None
    ) = msgspec.field(default=None, name="from")
    status: Annotated[
        DryRunStatus,
        msgspec.Meta(
            description="The message's first status: QUEUED (sent now), SCHEDULED, or FAILED "
            "when it would fail without reaching a provider (see `error`)."
        ),
    ]
    text: Annotated[
        str | None, msgspec.Meta(description="The text rendered with the recipient's variables.")
    ] = None
    media: list[MediaIn] | None = None
    content_id: str | None = None
    tags: Annotated[Tags, msgspec.Meta(description="The tags rendered for this recipient.")]
    encoding: (
        Annotated[
            TextEncoding,
            msgspec.Meta(
                description="GSM-7 (160/153 a segment) or UCS-2 (70/67); null without text."
            ),
        ]
        | None
    ) = None
    segments: Annotated[
        int | None,
        msgspec.Meta(description="Segments of the rendered text (1 off SMS or with media)."),
    ] = None
    scheduled_for: Annotated[
        str | None,
        msgspec.Meta(
            description="When the message is due (UTC); a local sendAt is applied in the "
            "recipient's time zone. Null when sent at once."
        ),
    ] = None
    suppressed: Annotated[
        bool,
        msgspec.Meta(
            description="Whether the message would fail with 21610 because the recipient "
            "opted out of this account's messages (suppression list; an opted-out address "
            "with another address to fall back on is not suppressed: `to` is that one)."
        ),
    ]
    error: Annotated[
        ErrorDetail | None,
        msgspec.Meta(
            description="Why the message would fail without a provider call (21610 the "
            "recipient opted out, 21617 rendered text over 1,600 characters, 30001 sender "
            "queue overflow, 90004 template failed for these variables, 90020 no sender "
            "reaches the recipient), or null."
        ),
    ] = None


class DryRunSender(msgspec.Struct, rename="camel"):
    """A sender the send would use, its queue, and when it would be done."""

    from_: SenderOut = msgspec.field(name="from")
    mps: Annotated[float, msgspec.Meta(description="Its rate: message segments per second.")]
    backlog: Annotated[
        int,
        msgspec.Meta(description="Messages already waiting for it now (counted as 1 segment)."),
    ]
    messages: Annotated[int, msgspec.Meta(description="Messages of this send it would send.")]
    segments: Annotated[int, msgspec.Meta(description="Their segments (1 for text-less ones).")]
    estimated_completion_at: Annotated[
        str | None,
        msgspec.Meta(
            description="When its last message of this send would be handed to the provider, "
            "at its rate, behind its backlog."
        ),
    ]


class DryRunResult(msgspec.Struct, rename="camel"):
    """What a send would do; nothing was stored, nothing will be sent."""

    total: Annotated[int, msgspec.Meta(description="Recipients (one message each).")]
    queued: int
    scheduled: int
    failed: Annotated[int, msgspec.Meta(description="Messages that would fail at once.")]
    suppressed: Annotated[
        int,
        msgspec.Meta(
            description="Messages that would fail with 21610: the recipient opted out "
            "(counted in `failed` too)."
        ),
    ]
    segments: Annotated[int, msgspec.Meta(description="Segments of the messages to be sent.")]
    estimated_completion_at: Annotated[
        str | None,
        msgspec.Meta(
            description="When the last message would be handed to a provider, from the "
            "senders' rates and backlogs; null when nothing would be sent."
        ),
    ]
    senders: list[DryRunSender]
    recipients: list[DryRunRecipient]
