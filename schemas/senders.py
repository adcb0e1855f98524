"""Wire contracts of the Senders resource (ext)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.common import Pagination

SenderKind = Literal["LONG_CODE", "TOLL_FREE", "SHORT_CODE", "ALPHANUMERIC", "WHATSAPP"]

# Default rate of each kind in message segments per second.
DEFAULT_MPS: dict[str, float] = {
    "LONG_CODE": 1.0,
    "TOLL_FREE": 3.0,
    "SHORT_CODE": 100.0,
    "ALPHANUMERIC": 10.0,
    "WHATSAPP": 80.0,
}
MAX_MPS = 10_000.0


class SenderCreate(msgspec.Struct, kw_only=True):
    address: Annotated[
        str, msgspec.Meta(description="E.164 number, short code (5-6 digits) or alphanumeric id.")
    ]
    channel: Annotated[str, msgspec.Meta(description="SMS, WHATSAPP or CONVERSATIONS.")]
    kind: (
        Annotated[
            str,
            msgspec.Meta(
                description="LONG_CODE, TOLL_FREE, SHORT_CODE, ALPHANUMERIC or WHATSAPP; "
                "inferred from the address when omitted."
            ),
        ]
        | None
    ) = None
    mps: (
        Annotated[
            float,
            msgspec.Meta(description="Segments per second; defaults by kind: 1, 3, 100, 10, 80."),
        ]
        | None
    ) = None


class SenderRead(msgspec.Struct, rename="camel"):
    id: str
    address: str
    channel: str
    kind: SenderKind
    mps: float
    created_at: str


class SendersPage(msgspec.Struct):
    senders: list[SenderRead]
    pagination: Pagination


class SenderPoolCreate(msgspec.Struct, kw_only=True, rename="camel"):
    display_name: Annotated[str, msgspec.Meta(description="1..256 characters.")]
    senders: Annotated[
        list[str],
        msgspec.Meta(description="1..20 sender ids in priority order: channels are tried so."),
    ]
    is_default: Annotated[
        bool, msgspec.Meta(description="(ext) Used when a send has no `from`.")
    ] = False


class SenderPoolUpdate(msgspec.Struct, kw_only=True, rename="camel"):
    display_name: str | None = None
    senders: list[str] | None = None
    is_default: bool | None = None


class SenderPoolRead(msgspec.Struct, rename="camel"):
    id: str
    display_name: str
    senders: list[SenderRead]
    is_default: bool
    created_at: str
    updated_at: str


class SenderPoolsPage(msgspec.Struct, rename="camel"):
    sender_pools: list[SenderPoolRead]
    pagination: Pagination
