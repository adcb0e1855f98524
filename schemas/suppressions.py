"""Wire contracts of the Suppressions resource (ext): an account's opted-out recipients."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.common import E164_EXAMPLE, Paging, Timestamp

SuppressionSource = Literal["INBOUND", "API"]


class SuppressionCreate(msgspec.Struct, kw_only=True):
    """A recipient to suppress: this account's sends to it fail with 21610."""

    address: Annotated[
        str,
        msgspec.Meta(
            description="The recipient's E.164 number (a `whatsapp:` prefix is accepted and "
            "dropped: one suppression covers every channel to the number).",
            examples=[E164_EXAMPLE],
            extra_json_schema={"minLength": 1},
        ),
    ]


class SuppressionRead(msgspec.Struct, rename="camel"):
    """A recipient this account's sends never reach: they fail with 21610, no provider call."""

    address: Annotated[
        str,
        msgspec.Meta(description="E.164, without a `whatsapp:` prefix.", examples=[E164_EXAMPLE]),
    ]
    source: Annotated[
        SuppressionSource,
        msgspec.Meta(
            title="SuppressionSource",
            description="INBOUND: the recipient replied STOP (or STOPALL, UNSUBSCRIBE, CANCEL, "
            "END, QUIT); API: added with POST /v1/Suppressions.",
            examples=["INBOUND"],
        ),
    ]
    created_at: Annotated[Timestamp, msgspec.Meta(description="When it was added.")]


class SuppressionsPage(msgspec.Struct):
    """A page of suppressed recipients, newest first."""

    suppressions: Annotated[
        list[SuppressionRead], msgspec.Meta(description="The page's suppressions.")
    ]
    pagination: Paging
