"""Wire contracts of the Messages resource: the send request, its answer, message reads.

Request Structs are lenient about values (enums are matched case-insensitively, limits are
checked by the service so that every problem is reported at once); the limits are stated in
constants here and, for the OpenAPI document only, in each field's `extra_json_schema`
(schemas/common.py), so the document and the checks agree.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal, get_args

import msgspec

from schemas.common import (
    E164_EXAMPLE,
    MAX_TAG_KEY,
    MAX_TAG_VALUE,
    MAX_TAGS,
    Form,
    MessageId,
    OperationId,
    Paging,
    Related,
    RenderedTags,
    SenderId,
    SenderPoolId,
    Tags,
    Timestamp,
    Url,
    typeid_pattern,
)

__all__ = ["MAX_TAGS", "MAX_TAG_KEY", "MAX_TAG_VALUE"]

MAX_RECIPIENTS = 10_000
MAX_ADDRESSES = 10
MAX_VARIABLES = 50
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
# An attempt as the API shows it: one whose provider call is under way (SUBMITTING) is QUEUED.
ATTEMPT_READ_STATUSES = ("QUEUED", "SENT", "DELIVERED", "READ", "UNDELIVERED", "FAILED")
RecipientChannel = Literal["PHONE", "WHATSAPP", "CONVERSATIONS"]
SenderChannel = Literal["SMS", "WHATSAPP", "CONVERSATIONS"]

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

# Enumerations the OpenAPI document names (a `title` makes one component a client shares).
# Input fields are text matched case-insensitively; the document lists the uppercase values.
RecipientChannelName = Annotated[
    str,
    msgspec.Meta(
        title="RecipientChannel", extra_json_schema={"enum": list(get_args(RecipientChannel))}
    ),
]
SenderChannelName = Annotated[
    str,
    msgspec.Meta(title="SenderChannel", extra_json_schema={"enum": list(get_args(SenderChannel))}),
]
MessageStatusName = Annotated[MessageStatus, msgspec.Meta(title="MessageStatus")]
MessageStatusText = Annotated[
    str,
    msgspec.Meta(title="MessageStatus", extra_json_schema={"enum": list(get_args(MessageStatus))}),
]

_Variables = Annotated[
    dict[str, str],
    msgspec.Meta(
        description="Template variables for this recipient (at most 50): `{{ name }}` in the "
        "text and tags, or a content template's variables.",
        examples=[{"name": "Ada"}],
        extra_json_schema={"maxProperties": MAX_VARIABLES},
    ),
]
_Address = Annotated[
    str,
    msgspec.Meta(
        description="E.164 phone number (a `whatsapp:` prefix is accepted on WHATSAPP); it "
        "must be a possible number for its country code.",
        examples=[E164_EXAMPLE],
        extra_json_schema={"minLength": 1},
    ),
]
_RecipientChannel = Annotated[
    RecipientChannelName,
    msgspec.Meta(
        description="PHONE (SMS, or MMS with media), WHATSAPP or CONVERSATIONS; any case.",
        examples=["PHONE"],
    ),
]


class AddressIn(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One address of a recipient with several: tried in the order given (fallback)."""

    address: _Address
    channel: _RecipientChannel


class RecipientIn(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """One recipient: `{address, channel}`, `{addresses: [...]}` tried in order (fallback), a
    profile (`{profileId}`) or an audience (`{audienceId}`).

    Each address recipient gets its own message; the same address twice gets two. Profiles
    and audiences are expanded by the workers: each profile of the send (given directly or
    through any of its audiences) gets one message, on its addresses in order.
    """

    address: _Address | None = None
    channel: _RecipientChannel | None = None
    addresses: (
        Annotated[
            list[AddressIn],
            msgspec.Meta(
                description="1..10 addresses of one person, tried in this order: the next one "
                "when a message to the previous one fails or is undelivered.",
                extra_json_schema={"minItems": 1, "maxItems": MAX_ADDRESSES},
            ),
        ]
        | None
    ) = None
    variables: _Variables | None = None
    profile_id: (
        Annotated[
            str,
            msgspec.Meta(
                description="A profile of this account: its addresses are the message's "
                "routes in order, and templates read its attributes "
                "(`{{ profile.attributes.firstName }}`, or `${Twilio.Profile.firstName}`).",
                examples=["comms_profile_01m8h0jzqsechs3yv6kh2qxj5v"],
                extra_json_schema={"pattern": typeid_pattern("comms_profile")},
            ),
        ]
        | None
    ) = None
    audience_id: (
        Annotated[
            str,
            msgspec.Meta(
                description="An audience of this account: every profile it holds when the "
                "send is expanded (a filter audience: every profile its filter matches then) "
                "gets one message.",
                examples=["comms_audience_01m8h0jzqsechs3yv6kh2qxj5t"],
                extra_json_schema={"pattern": typeid_pattern("comms_audience")},
            ),
        ]
        | None
    ) = None


# The forms a RecipientIn takes (a oneOf in the OpenAPI document).
RECIPIENT_FORMS: dict[str, Form] = {
    "RecipientAddress": Form(("address", "channel"), "A recipient reached at one address."),
    "RecipientAddresses": Form(
        ("addresses",),
        "One person reachable at several addresses, tried in order (channel fallback).",
    ),
    "RecipientProfile": Form(
        ("profileId",),
        "A profile: one message on its addresses in order (expanded by the workers); templates "
        "read its attributes, so it takes no variables.",
        excluded=("variables",),
    ),
    "RecipientAudience": Form(
        ("audienceId",),
        "An audience: one message per profile it holds (expanded by the workers, streaming); "
        "templates read each profile's attributes, so it takes no variables.",
        excluded=("variables",),
    ),
}


class MediaIn(msgspec.Struct, kw_only=True):
    """A media file to send with the message (MMS on PHONE, media on WhatsApp)."""

    url: Annotated[
        str,
        msgspec.Meta(
            description="An https URL the provider fetches.",
            examples=["https://assets.example.com/welcome.png"],
            extra_json_schema={"format": "uri", "pattern": "^https://."},
        ),
    ]


class ContentIn(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """What to send: `text` and/or `media`, or a provider content template (`contentId`)."""

    text: Annotated[
        str | None,
        msgspec.Meta(
            description="A Liquid template rendered per recipient with its `variables` (a "
            "missing variable renders empty unless the template gives a `default`); at most "
            "1,600 characters once rendered. GSM-7 text is 160/153 characters a segment, "
            "UCS-2 70/67.",
            examples=["Hello {{ name | default: 'there' }}!"],
            extra_json_schema={"maxLength": MAX_TEXT},
        ),
    ] = None
    media: Annotated[
        list[MediaIn] | None,
        msgspec.Meta(
            description="At most 10 media files.",
            extra_json_schema={"maxItems": MAX_MEDIA},
        ),
    ] = None
    content_id: Annotated[
        str | None,
        msgspec.Meta(
            description="A provider content template: HX and 32 hex digits. The recipient's "
            "`variables` become its content variables (WhatsApp outside the 24-hour window "
            "needs one).",
            examples=["HXb5b62575e6e4ff6129ad7c8efe1f983e"],
            extra_json_schema={"pattern": "^HX[0-9a-fA-F]{32}$"},
        ),
    ] = None


class SenderIn(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """Who sends: `{address, channel}`, `{senderId}` or `{senderPoolId}`."""

    address: Annotated[
        str | None,
        msgspec.Meta(
            description="The sending number, short code or alphanumeric id, or a Twilio "
            "Messaging Service SID (MG + 32 hex: the provider picks the number; its channel "
            "defaults to SMS); it need not be registered (an unregistered one gets its kind's "
            "default rate).",
            examples=["+15017122661"],
            extra_json_schema={"minLength": 1},
        ),
    ] = None
    channel: Annotated[
        SenderChannelName | None,
        msgspec.Meta(description="SMS, WHATSAPP or CONVERSATIONS; any case.", examples=["SMS"]),
    ] = None
    sender_id: Annotated[
        SenderId | None, msgspec.Meta(description="A registered sender of this account.")
    ] = None
    sender_pool_id: Annotated[
        SenderPoolId | None,
        msgspec.Meta(
            description="A sender pool of this account: its senders in priority order drive "
            "channel fallback."
        ),
    ] = None


# The forms of `from` (a oneOf in the OpenAPI document).
SENDER_FORMS: dict[str, Form] = {
    "SenderAddress": Form(
        ("address", "channel"), "A sending address on a channel, registered or not."
    ),
    "SenderById": Form(("senderId",), "A registered sender of this account."),
    "SenderPoolById": Form(
        ("senderPoolId",), "A sender pool of this account: its senders in priority order."
    ),
}


class ScheduleIn(msgspec.Struct, kw_only=True, rename="camel"):
    """When to send instead of now: from now up to 35 days ahead."""

    send_at: Annotated[
        list[str],
        msgspec.Meta(
            description=(
                "Exactly one RFC 3339 date-time. With an offset or Z it is an instant; without "
                "one it is a local time applied in each recipient's own time zone (derived "
                "from the number, else UTC). More than 60 s in the past: 35114; more than 35 "
                "days ahead: 35115."
            ),
            examples=[["2026-12-01T09:30:00"]],
            extra_json_schema={"minItems": 1, "maxItems": 1},
        ),
    ]


class SendMessagesRequest(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """A send: one message per recipient, rendered and sent in the background."""

    to: Annotated[
        list[RecipientIn],
        msgspec.Meta(
            description="1..10,000 recipients.",
            extra_json_schema={"minItems": 1, "maxItems": MAX_RECIPIENTS},
        ),
    ]
    content: Annotated[ContentIn, msgspec.Meta(description="What every recipient is sent.")]
    from_: Annotated[
        SenderIn | None,
        msgspec.Meta(
            description="Who sends; without it, the account's default sender pool (none: 400, "
            "code 21603)."
        ),
    ] = msgspec.field(default=None, name="from")
    schedule: Annotated[
        ScheduleIn | None, msgspec.Meta(description="When to send; without it, now.")
    ] = None
    tags: Annotated[
        Tags | None,
        msgspec.Meta(
            description="Key-value pairs kept on the operation and each message (at most 10; "
            "keys 1..128, values at most 256 characters); values may be Liquid templates, "
            "rendered per recipient."
        ),
    ] = None
    validity_period: Annotated[
        int | None,
        msgspec.Meta(
            description="(ext) Seconds a message may wait to be handed to a provider, "
            "1..36,000 (default 36,000); a message still waiting then fails with 30036.",
            examples=[3600],
            extra_json_schema={"minimum": VALIDITY_MIN, "maximum": VALIDITY_MAX},
        ),
    ] = None
    status_callback: Annotated[
        str | None,
        msgspec.Meta(
            description="(ext) An https URL of a public host that receives this operation's "
            "events, as webhooks do (CloudEvents, Standard Webhooks signatures with the "
            "`statusCallbackSecret` of the answer, retries for 24 h).",
            examples=["https://hooks.example.com/operations"],
            extra_json_schema={"format": "uri", "maxLength": 2048},
        ),
    ] = None


class SendMessagesAccepted(msgspec.Struct, rename="camel", omit_defaults=True):
    """The send is stored: its operation's id and URL (also in the answer's headers)."""

    operation_id: Annotated[OperationId, msgspec.Meta(description="The new operation's id.")]
    operation_location: Annotated[
        Url, msgspec.Meta(description="The operation's URL: poll it for progress.")
    ]
    status_callback_secret: Annotated[
        str | None,
        msgspec.Meta(
            description="(ext) With a `statusCallback`: the Standard Webhooks secret its "
            "deliveries are signed with (`whsec_…`).",
            examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        ),
    ] = None


class AddressOut(msgspec.Struct):
    """A recipient's address and channel."""

    address: Annotated[str, msgspec.Meta(description="E.164.", examples=[E164_EXAMPLE])]
    channel: Annotated[
        RecipientChannelName,
        msgspec.Meta(description="PHONE, WHATSAPP or CONVERSATIONS.", examples=["PHONE"]),
    ]


class SenderOut(msgspec.Struct, rename="camel", omit_defaults=True):
    """A sender's address and channel (and its id when it is registered)."""

    address: Annotated[
        str,
        msgspec.Meta(
            description="The sending number, short code, alphanumeric id or Messaging Service SID.",
            examples=["+15017122661"],
        ),
    ]
    channel: Annotated[
        SenderChannelName,
        msgspec.Meta(description="SMS, WHATSAPP or CONVERSATIONS.", examples=["SMS"]),
    ]
    sender_id: Annotated[
        SenderId | None,
        msgspec.Meta(description="The registered sender's id; absent when not registered."),
    ] = None


class ErrorDetail(msgspec.Struct, rename="camel"):
    """Why a message or an attempt failed: a Twilio error code, or one of ours (9xxxx)."""

    code: Annotated[
        int,
        msgspec.Meta(
            description="The error code (see `infoUrl`).",
            examples=[30003],
        ),
    ]
    message: Annotated[
        str,
        msgspec.Meta(description="What went wrong.", examples=["Unreachable destination handset"]),
    ]
    info_url: Annotated[
        Url,
        msgspec.Meta(
            description="The code's documentation: Twilio's page for a Twilio code, the "
            "service's error-code page for one of its own.",
            examples=["https://www.twilio.com/docs/api/errors/30003"],
        ),
    ]


class AttemptRead(msgspec.Struct, rename="camel"):
    """One hand-over of the message to a provider on one channel, and what became of it."""

    id: Annotated[
        str,
        msgspec.Meta(
            description="The provider's id of the attempt (SM…/MM… for Messages, IM… for "
            "Conversations), or comms_attempt_… until the provider answered.",
            examples=["SM0123456789abcdef0123456789abcdef"],
        ),
    ]
    channel: Annotated[
        SenderChannelName,
        msgspec.Meta(description="The channel it went over.", examples=["SMS"]),
    ]
    from_: Annotated[SenderOut, msgspec.Meta(description="The sender used.")] = msgspec.field(
        name="from"
    )
    to: Annotated[list[AddressOut], msgspec.Meta(description="The address it went to.")]
    status: Annotated[
        str,
        msgspec.Meta(
            title="AttemptStatus",
            description="The provider's status of the attempt (its accepted, queued and sending "
            "are QUEUED, as is an attempt whose provider call is under way).",
            examples=["DELIVERED"],
            extra_json_schema={"enum": list(ATTEMPT_READ_STATUSES)},
        ),
    ]
    attempted_at: Annotated[
        Timestamp, msgspec.Meta(description="When the request went to the provider.")
    ]
    updated_at: Annotated[Timestamp, msgspec.Meta(description="When its status last changed.")]
    segments: Annotated[
        int | None,
        msgspec.Meta(
            description="Segments the provider billed or counted; null until known.",
            examples=[1],
        ),
    ]
    error: Annotated[
        ErrorDetail | None, msgspec.Meta(description="Why it failed; null unless it did.")
    ]


class MessageContentOut(msgspec.Struct, rename="camel", omit_defaults=True):
    """The message's content as rendered for its recipient."""

    text: Annotated[
        str | None, msgspec.Meta(description="The rendered text.", examples=["Hello Ada!"])
    ] = None
    media: Annotated[list[MediaIn] | None, msgspec.Meta(description="Its media files.")] = None
    content_id: Annotated[
        str | None,
        msgspec.Meta(
            description="The provider content template sent.",
            examples=["HXb5b62575e6e4ff6129ad7c8efe1f983e"],
        ),
    ] = None


class MessageRead(msgspec.Struct, rename="camel"):
    """One recipient's message of an operation."""

    id: Annotated[MessageId, msgspec.Meta(description="The message's id.")]
    operation_id: Annotated[
        OperationId, msgspec.Meta(description="(ext) The operation it belongs to.")
    ]
    from_: Annotated[
        SenderOut | None,
        msgspec.Meta(description="The operation's first sender; null when it had none."),
    ] = msgspec.field(name="from")
    to: Annotated[
        list[AddressOut],
        msgspec.Meta(description="The address the message is for (its current route's)."),
    ]
    status: Annotated[
        MessageStatusName,
        msgspec.Meta(
            description="SCHEDULED < QUEUED < SENT < DELIVERED < READ, or UNDELIVERED, FAILED, "
            "CANCELED; never moves backwards.",
            examples=["DELIVERED"],
        ),
    ]
    related: Annotated[
        list[Related], msgspec.Meta(description="The operation the message belongs to.")
    ]
    tags: Annotated[RenderedTags, msgspec.Meta(description="The send's tags as rendered.")]
    scheduled_for: Annotated[
        Timestamp | None,
        msgspec.Meta(description="When a scheduled message is due; null when sent at once."),
    ]
    created_at: Annotated[Timestamp, msgspec.Meta(description="When the send was accepted.")]
    updated_at: Annotated[Timestamp, msgspec.Meta(description="When its status last changed.")]
    deleted_at: Annotated[
        Timestamp | None,
        msgspec.Meta(
            description="When the message was deleted; null while it is kept (messages are "
            "removed after the retention period)."
        ),
    ]


class MessageDetail(MessageRead, rename="camel"):
    """A message with its rendered content and every attempt to deliver it."""

    content: Annotated[
        MessageContentOut | None,
        msgspec.Meta(description="The content as rendered for the recipient."),
    ]
    attempts: Annotated[
        list[AttemptRead], msgspec.Meta(description="Every hand-over to a provider, in order.")
    ]


class MessagesPage(msgspec.Struct):
    """A page of messages, newest first."""

    messages: Annotated[list[MessageRead], msgspec.Meta(description="The page's messages.")]
    pagination: Paging


class SearchMessagesRequest(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """The filters of GET /v1/Messages in a JSON body; all optional, combined with AND.

    Unknown fields are ignored. Enum values are matched case-insensitively.
    """

    operation_id: Annotated[
        OperationId | None,
        msgspec.Meta(description="Messages of one operation (comms_operation_…)."),
    ] = None
    status: Annotated[
        MessageStatusText | None,
        msgspec.Meta(description=STATUS_FILTER_TEXT, examples=["FAILED"]),
    ] = None
    channel: Annotated[
        RecipientChannelName | None,
        msgspec.Meta(description=CHANNEL_FILTER_TEXT, examples=["PHONE"]),
    ] = None
    address: Annotated[
        str | None, msgspec.Meta(description=ADDRESS_FILTER_TEXT, examples=[E164_EXAMPLE])
    ] = None
    tags: Annotated[
        Tags | None,
        msgspec.Meta(
            description="Messages whose tags hold every one of these pairs (AND); at most 10 pairs."
        ),
    ] = None
    start_date: Annotated[
        str | None,
        msgspec.Meta(
            description=START_DATE_TEXT,
            examples=["2026-11-01T00:00:00Z"],
            extra_json_schema={"format": "date-time"},
        ),
    ] = None
    end_date: Annotated[
        str | None,
        msgspec.Meta(
            description=END_DATE_TEXT,
            examples=["2026-12-01T00:00:00Z"],
            extra_json_schema={"format": "date-time"},
        ),
    ] = None


# Dry run (POST /v1/Messages/DryRun) ----------------------------------------------------------

DryRunStatus = Literal["QUEUED", "SCHEDULED", "FAILED"]


class TextEncoding(enum.Enum):
    """How a text is encoded in SMS: GSM-7 (160/153 a segment) or UCS-2 (70/67)."""

    GSM_7 = "GSM-7"
    UCS_2 = "UCS-2"


class DryRunRecipient(msgspec.Struct, rename="camel", kw_only=True):
    """What one recipient's message would be: rendered, counted, routed and timed."""

    position: Annotated[
        int, msgspec.Meta(description="The recipient's index in `to`.", examples=[0])
    ]
    to: Annotated[
        AddressOut,
        msgspec.Meta(description="The address and channel chosen (the first one tried)."),
    ]
    from_: Annotated[
        SenderOut | None,
        msgspec.Meta(description="The sender chosen for that address; null when none reaches it."),
    ] = msgspec.field(default=None, name="from")
    status: Annotated[
        DryRunStatus,
        msgspec.Meta(
            description="The message's first status: QUEUED (sent now), SCHEDULED, or FAILED "
            "when it would fail without reaching a provider (see `error`).",
            examples=["QUEUED"],
        ),
    ]
    text: Annotated[
        str | None,
        msgspec.Meta(
            description="The text rendered with the recipient's variables.",
            examples=["Hello Ada!"],
        ),
    ] = None
    media: Annotated[list[MediaIn] | None, msgspec.Meta(description="The media to send.")] = None
    content_id: Annotated[
        str | None,
        msgspec.Meta(
            description="The provider content template to send.",
            examples=["HXb5b62575e6e4ff6129ad7c8efe1f983e"],
        ),
    ] = None
    tags: Annotated[RenderedTags, msgspec.Meta(description="The tags rendered for this recipient.")]
    encoding: Annotated[
        TextEncoding | None,
        msgspec.Meta(description="GSM-7 (160/153 a segment) or UCS-2 (70/67); null without text."),
    ] = None
    segments: Annotated[
        int | None,
        msgspec.Meta(
            description="Segments of the rendered text (1 off SMS or with media).", examples=[1]
        ),
    ] = None
    scheduled_for: Annotated[
        Timestamp | None,
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
            "with another address to fall back on is not suppressed: `to` is that one).",
            examples=[False],
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

    from_: Annotated[SenderOut, msgspec.Meta(description="The sender.")] = msgspec.field(
        name="from"
    )
    mps: Annotated[
        float,
        msgspec.Meta(description="Its rate: message segments per second.", examples=[1.0]),
    ]
    backlog: Annotated[
        int,
        msgspec.Meta(
            description="Messages already waiting for it now (counted as 1 segment).",
            examples=[0],
        ),
    ]
    messages: Annotated[
        int, msgspec.Meta(description="Messages of this send it would send.", examples=[1])
    ]
    segments: Annotated[
        int, msgspec.Meta(description="Their segments (1 for text-less ones).", examples=[1])
    ]
    estimated_completion_at: Annotated[
        Timestamp | None,
        msgspec.Meta(
            description="When its last message of this send would be handed to the provider, "
            "at its rate, behind its backlog; null when it would send none."
        ),
    ]


class DryRunResult(msgspec.Struct, rename="camel"):
    """What a send would do; nothing was stored, nothing will be sent."""

    total: Annotated[int, msgspec.Meta(description="Recipients (one message each).", examples=[1])]
    queued: Annotated[
        int, msgspec.Meta(description="Messages that would be sent at once.", examples=[1])
    ]
    scheduled: Annotated[
        int, msgspec.Meta(description="Messages that would wait for `sendAt`.", examples=[0])
    ]
    failed: Annotated[
        int, msgspec.Meta(description="Messages that would fail at once.", examples=[0])
    ]
    suppressed: Annotated[
        int,
        msgspec.Meta(
            description="Messages that would fail with 21610: the recipient opted out "
            "(counted in `failed` too).",
            examples=[0],
        ),
    ]
    segments: Annotated[
        int, msgspec.Meta(description="Segments of the messages to be sent.", examples=[1])
    ]
    estimated_completion_at: Annotated[
        Timestamp | None,
        msgspec.Meta(
            description="When the last message would be handed to a provider, from the "
            "senders' rates and backlogs; null when nothing would be sent."
        ),
    ]
    senders: Annotated[
        list[DryRunSender], msgspec.Meta(description="Each sender the send would use.")
    ]
    recipients: Annotated[
        list[DryRunRecipient], msgspec.Meta(description="Each recipient's message, in order.")
    ]
