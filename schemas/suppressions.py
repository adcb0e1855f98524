"""Wire contracts of the Suppressions resource (ext): an account's opted-out recipients."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.common import Pagination

SuppressionSource = Literal["INBOUND", "API"]


class SuppressionCreate(msgspec.Struct, kw_only=True):
    address: Annotated[
        str,
        msgspec.Meta(
            description="The recipient's E.164 number (a `whatsapp:` prefix is accepted and "
            "dropped: one suppression covers every channel to the number).",
            examples=["+15558675310"],
        ),
    ]


class SuppressionRead(msgspec.Struct, rename="camel"):
    """A recipient this account's sends never reach: they fail with 21610, no provider call."""

    address: Annotated[str, msgspec.Meta(description="E.164, without a `whatsapp:` prefix.")]
    source: Annotated[
        SuppressionSource,
        msgspec.Meta(
            description="INBOUND: the recipient replied STOP (or STOPALL, UNSUBSCRIBE, CANCEL, "
            "END, QUIT); API: added with POST /v1/Suppressions."
        ),
    ]
    created_at: str


class SuppressionsPage(msgspec.Struct):
    suppressions: list[SuppressionRead]
    pagination: Pagination
