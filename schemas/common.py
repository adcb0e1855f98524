"""Pieces shared by several wire contracts.

Field documentation: `msgspec.Meta(description=..., examples=...)`. Constraints that the
service checks itself (so that one 400 names every problem) are stated for the OpenAPI
document only, in `extra_json_schema` (`maxItems`, `pattern`, `enum`, `format`): msgspec
writes them into the JSON Schema and never checks them when decoding.
"""

from __future__ import annotations

from typing import Annotated, NamedTuple

import msgspec

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 1000

# The 26 Crockford base32 characters of a TypeID (a UUIDv7); service/ids.py makes and reads them.
TYPEID_SUFFIX = r"[0-7][a-hjkmnpqrstv-z0-9]{25}"


def typeid_pattern(prefix: str) -> str:
    """The regular expression of a TypeID with this prefix."""
    return f"^{prefix}_{TYPEID_SUFFIX}$"


def _typeid(prefix: str, example: str, description: str) -> msgspec.Meta:
    return msgspec.Meta(
        description=description,
        examples=[example],
        extra_json_schema={"pattern": typeid_pattern(prefix)},
    )


OperationId = Annotated[
    str,
    _typeid("comms_operation", "comms_operation_01m8h0jzqsechs3yv6kh2qxj5m", "An operation's id."),
]
MessageId = Annotated[
    str,
    _typeid("comms_message", "comms_message_01m8h0jzqtf5v9w3b8m2n6k4x1", "A message's id."),
]
SenderId = Annotated[
    str, _typeid("comms_sender", "comms_sender_01m8h0jzqsechs3yv6kh2qxj5p", "A sender's id.")
]
SenderPoolId = Annotated[
    str,
    _typeid(
        "comms_senderpool", "comms_senderpool_01m8h0jzqsechs3yv6kh2qxj5q", "A sender pool's id."
    ),
]
WebhookId = Annotated[
    str,
    _typeid(
        "comms_webhook", "comms_webhook_01m8h0jzqsechs3yv6kh2qxj5m", "A webhook endpoint's id."
    ),
]
DeliveryId = Annotated[
    str,
    _typeid(
        "comms_delivery",
        "comms_delivery_01m8h0jzqsechs3yv6kh2qxj5r",
        "A webhook or statusCallback delivery's id (also its `webhook-id` header).",
    ),
]

# RFC 3339 in UTC with milliseconds, as every timestamp the API writes.
Timestamp = Annotated[
    str,
    msgspec.Meta(
        description="RFC 3339 date-time in UTC with milliseconds.",
        examples=["2026-11-25T10:00:00.123Z"],
        extra_json_schema={"format": "date-time"},
    ),
]

# An absolute URL the API writes (it starts with the configured public base URL).
Url = Annotated[
    str,
    msgspec.Meta(
        description="An absolute URL.",
        examples=[
            "https://comms.example/v1/Messages/Operations/comms_operation_01m8h0jzqsechs3yv6kh2qxj5m"
        ],
        extra_json_schema={"format": "uri"},
    ),
]

E164_EXAMPLE = "+15558675310"

MAX_TAGS = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256

_TagKey = Annotated[str, msgspec.Meta(extra_json_schema={"minLength": 1, "maxLength": MAX_TAG_KEY})]
_TagValue = Annotated[str, msgspec.Meta(extra_json_schema={"maxLength": MAX_TAG_VALUE})]

# As sent: at most 10 pairs, keys 1..128 and values at most 256 characters.
Tags = Annotated[
    dict[_TagKey, _TagValue],
    msgspec.Meta(
        description="Key-value pairs of your own (at most 10; keys 1..128, values at most 256 "
        "characters).",
        examples=[{"campaign": "welcome"}],
        extra_json_schema={"maxProperties": MAX_TAGS},
    ),
]
# Rendered per recipient (values may be Liquid templates): a value may grow past 256.
RenderedTags = Annotated[
    dict[_TagKey, str],
    msgspec.Meta(
        description="The send's tags, each value rendered with the recipient's variables.",
        examples=[{"campaign": "welcome", "who": "ada"}],
        extra_json_schema={"maxProperties": MAX_TAGS},
    ),
]


class Form(NamedTuple):
    """One form of a Struct that takes several (a oneOf in the OpenAPI document): the fields it
    requires, and what it is for. It is decoded as one Struct, so that a request with many bad
    items is answered with every problem at once."""

    required: tuple[str, ...]
    description: str
    # Shared fields this form does not take.
    excluded: tuple[str, ...] = ()


PageSize = Annotated[
    int, msgspec.Meta(ge=1, le=PAGE_SIZE_MAX, description="Items per page, 1..1000 (default 50).")
]


class Pagination(msgspec.Struct):
    """Where a list goes on: opaque keyset cursors; pass either back as `pageToken`."""

    next: Annotated[
        str | None,
        msgspec.Meta(
            description="The token of the next page; null on the last page.",
            examples=["eyJ2IjoyLCJxIjoiOWYyYzQxIiwiYXQiOjE3OTQ3OTM2MDAxMjMwMDAsImlkIjoiMDE5In0"],
        ),
    ]
    self: Annotated[
        str,
        msgspec.Meta(
            description="The token of this page (fetch it again with the same filters).",
            examples=["eyJ2IjoyLCJxIjoiOWYyYzQxIiwiYXQiOm51bGwsImlkIjpudWxsfQ"],
        ),
    ]


Paging = Annotated[
    Pagination, msgspec.Meta(description="The tokens of this page and of the next one.")
]


class Related(msgspec.Struct):
    """A resource this one belongs to."""

    name: Annotated[
        str,
        msgspec.Meta(
            description="What the related resource is: OPERATION.",
            extra_json_schema={"enum": ["OPERATION"]},
        ),
    ]
    id: Annotated[
        str,
        msgspec.Meta(
            description="Its id.",
            examples=["comms_operation_01m8h0jzqsechs3yv6kh2qxj5m"],
        ),
    ]
    uri: Annotated[Url, msgspec.Meta(description="Its URL.")]
