"""Wire contracts of the Senders resource (ext)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import msgspec

from schemas.common import Paging, SenderId, SenderPoolId, Timestamp
from schemas.messages import SenderChannelName

SenderKind = Literal[
    "LONG_CODE", "TOLL_FREE", "SHORT_CODE", "ALPHANUMERIC", "WHATSAPP", "MESSAGING_SERVICE"
]

# Default rate of each kind in message segments per second. A long code outside the US and
# Canada (not +1) defaults to NON_NANP_LONG_CODE_MPS instead.
DEFAULT_MPS: dict[str, float] = {
    "LONG_CODE": 1.0,
    "TOLL_FREE": 3.0,
    "SHORT_CODE": 100.0,
    "ALPHANUMERIC": 10.0,
    "WHATSAPP": 80.0,
    "MESSAGING_SERVICE": 10.0,
}
NON_NANP_LONG_CODE_MPS = 10.0
MAX_MPS = 10_000.0
MAX_POOL_SENDERS = 20
MAX_DISPLAY_NAME = 256

_KIND_TEXT = (
    "LONG_CODE, TOLL_FREE, SHORT_CODE, ALPHANUMERIC, WHATSAPP or MESSAGING_SERVICE (a Twilio "
    "Messaging Service SID, MG + 32 hex, whose number the provider picks); its default rate is "
    "1 (10 for a long code outside +1), 3, 100, 10, 80 or 10 segments a second."
)
SenderKindText = Annotated[
    str, msgspec.Meta(title="SenderKind", extra_json_schema={"enum": list(get_args(SenderKind))})
]
_Senders = Annotated[
    list[SenderId],
    msgspec.Meta(
        description="1..20 sender ids, each once, in priority order: a recipient is tried on "
        "the first sender's channel first, then the next one's (fallback).",
        extra_json_schema={"minItems": 1, "maxItems": MAX_POOL_SENDERS, "uniqueItems": True},
    ),
]
_DisplayName = Annotated[
    str,
    msgspec.Meta(
        description="A name for people, 1..256 characters.",
        examples=["Marketing US"],
        extra_json_schema={"minLength": 1, "maxLength": MAX_DISPLAY_NAME},
    ),
]


class SenderCreate(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A sender to register: its address, channel, kind and rate."""

    address: Annotated[
        str,
        msgspec.Meta(
            description="E.164 number, short code (5-6 digits), alphanumeric id, or a "
            "Messaging Service SID (MG + 32 hex; SMS or WHATSAPP).",
            examples=["+15017122661"],
            extra_json_schema={"minLength": 1},
        ),
    ]
    channel: Annotated[
        SenderChannelName,
        msgspec.Meta(description="SMS, WHATSAPP or CONVERSATIONS; any case.", examples=["SMS"]),
    ]
    kind: Annotated[
        SenderKindText | None,
        msgspec.Meta(
            description=_KIND_TEXT + " Inferred from the address when omitted; any case.",
            examples=["LONG_CODE"],
        ),
    ] = None
    mps: Annotated[
        float | None,
        msgspec.Meta(
            description="Message segments a second, more than 0 and at most 10,000; the "
            "kind's default when omitted.",
            examples=[1.0],
            extra_json_schema={"exclusiveMinimum": 0, "maximum": MAX_MPS},
        ),
    ] = None


class SenderRead(msgspec.Struct, rename="camel"):
    """A registered sender: no sender ever exceeds its rate, whatever the number of workers."""

    id: Annotated[SenderId, msgspec.Meta(description="The sender's id.")]
    address: Annotated[
        str,
        msgspec.Meta(
            description="E.164 number, short code or alphanumeric id.", examples=["+15017122661"]
        ),
    ]
    channel: Annotated[
        SenderChannelName,
        msgspec.Meta(description="SMS, WHATSAPP or CONVERSATIONS.", examples=["SMS"]),
    ]
    kind: Annotated[
        SenderKind, msgspec.Meta(title="SenderKind", description=_KIND_TEXT, examples=["LONG_CODE"])
    ]
    mps: Annotated[
        float, msgspec.Meta(description="Its rate: message segments a second.", examples=[1.0])
    ]
    created_at: Annotated[Timestamp, msgspec.Meta(description="When it was registered.")]


class SendersPage(msgspec.Struct):
    """A page of senders, newest first."""

    senders: Annotated[list[SenderRead], msgspec.Meta(description="The page's senders.")]
    pagination: Paging


class SenderPoolCreate(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """A sender pool: senders in priority order, used by `from: {senderPoolId}`."""

    display_name: _DisplayName
    senders: _Senders
    is_default: Annotated[
        bool,
        msgspec.Meta(
            description="(ext) Used when a send has no `from`; one pool of an account is.",
            examples=[False],
        ),
    ] = False


class SenderPoolUpdate(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """What to change in a sender pool; fields left out stay as they are."""

    display_name: Annotated[_DisplayName | None, msgspec.Meta(description="A new name.")] = None
    senders: Annotated[
        _Senders | None, msgspec.Meta(description="The new senders, in priority order.")
    ] = None
    is_default: Annotated[
        bool | None,
        msgspec.Meta(
            description="(ext) Make it the account's default pool, or not.", examples=[True]
        ),
    ] = None


class SenderPoolRead(msgspec.Struct, rename="camel"):
    """A sender pool with its senders in priority order."""

    id: Annotated[SenderPoolId, msgspec.Meta(description="The pool's id.")]
    display_name: Annotated[str, msgspec.Meta(description="Its name.", examples=["Marketing US"])]
    senders: Annotated[
        list[SenderRead], msgspec.Meta(description="Its senders, in priority order.")
    ]
    is_default: Annotated[
        bool,
        msgspec.Meta(description="(ext) Whether sends without `from` use it.", examples=[False]),
    ]
    created_at: Annotated[Timestamp, msgspec.Meta(description="When it was created.")]
    updated_at: Annotated[Timestamp, msgspec.Meta(description="When it last changed.")]


class SenderPoolsPage(msgspec.Struct, rename="camel"):
    """A page of sender pools, newest first."""

    sender_pools: Annotated[
        list[SenderPoolRead], msgspec.Meta(description="The page's sender pools.")
    ]
    pagination: Paging
