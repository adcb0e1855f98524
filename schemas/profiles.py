"""Wire contracts of the Profiles resource: the people an account sends to, and bulk imports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from schemas.common import E164_EXAMPLE, Paging, Timestamp, typeid_pattern

MAX_ADDRESSES = 10
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_KEY = 64
MAX_ATTRIBUTE_VALUE = 1024
MAX_EXTERNAL_ID = 256
# Rows of one import, and the row errors an import keeps (the first ones).
MAX_IMPORT_ROWS = 1_000_000
MAX_IMPORT_ERRORS = 100

ProfileId = Annotated[
    str,
    msgspec.Meta(
        description="A profile's id.",
        examples=["comms_profile_01m8h0jzqsechs3yv6kh2qxj5t"],
        extra_json_schema={"pattern": typeid_pattern("comms_profile")},
    ),
]
ProfileImportId = Annotated[
    str,
    msgspec.Meta(
        description="A profile import's id.",
        examples=["comms_profileimport_01m8h0jzqsechs3yv6kh2qxj5v"],
        extra_json_schema={"pattern": typeid_pattern("comms_profileimport")},
    ),
]
AttributeValue = str | int | float | bool
# Decoded as any JSON value so that the service names the offending key (service/profiles).
_Attributes = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description="A flat object of your own: at most 50 keys (1..64 characters), each a "
        "string (at most 1,024 characters), a number or a boolean. Merged into the profile's "
        "attributes: a key given replaces its value, `null` removes the key, keys left out "
        "stay.",
        examples=[{"firstName": "Ada", "plan": "pro", "age": 36, "vip": True}],
        extra_json_schema={
            "maxProperties": MAX_ATTRIBUTES,
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        },
    ),
]
_ExternalId = Annotated[
    str,
    msgspec.Meta(
        description="Your own key for the profile, 1..256 characters, unique in the account.",
        examples=["crm-42"],
        extra_json_schema={"minLength": 1, "maxLength": MAX_EXTERNAL_ID},
    ),
]
_TimeZone = Annotated[
    str,
    msgspec.Meta(
        description="An IANA time zone: a recipient-local schedule uses it.",
        examples=["Europe/Paris"],
    ),
]


class ProfileAddress(msgspec.Struct, kw_only=True):
    """One way to reach the profile."""

    address: Annotated[
        str,
        msgspec.Meta(
            description="E.164 number (a `whatsapp:` prefix is accepted and dropped).",
            examples=[E164_EXAMPLE],
            extra_json_schema={"minLength": 1},
        ),
    ]
    channel: Annotated[
        str,
        msgspec.Meta(
            description="SMS, WHATSAPP or CONVERSATIONS (any case; PHONE is taken as SMS).",
            examples=["SMS"],
            extra_json_schema={"enum": ["SMS", "WHATSAPP", "CONVERSATIONS"]},
        ),
    ]


_Addresses = Annotated[
    list[ProfileAddress],
    msgspec.Meta(
        description="0..10 addresses, each (channel, address) once, in priority order: a send "
        "to the profile tries them in this order. Given, it replaces the profile's addresses.",
        extra_json_schema={"maxItems": MAX_ADDRESSES},
    ),
]


class ProfileCreate(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """A profile: its addresses, attributes, time zone and your own key for it. Also the body of
    `PUT /v1/Profiles/ExternalId/{externalId}` and one row of an NDJSON import."""

    external_id: Annotated[_ExternalId | UnsetType | None, msgspec.Meta()] = UNSET
    addresses: _Addresses | UnsetType = UNSET
    attributes: _Attributes | UnsetType = UNSET
    time_zone: Annotated[_TimeZone | UnsetType | None, msgspec.Meta()] = UNSET


class ProfileUpdate(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """What to change in a profile: fields left out stay as they are; `null` clears
    `externalId` or `timeZone`; attributes are merged key by key (`null` removes a key)."""

    external_id: Annotated[_ExternalId | UnsetType | None, msgspec.Meta()] = UNSET
    addresses: _Addresses | UnsetType = UNSET
    attributes: _Attributes | UnsetType = UNSET
    time_zone: Annotated[_TimeZone | UnsetType | None, msgspec.Meta()] = UNSET


class ProfileRead(msgspec.Struct, rename="camel"):
    """A profile: someone this account sends to."""

    id: Annotated[ProfileId, msgspec.Meta(description="The profile's id.")]
    external_id: Annotated[
        str | None,
        msgspec.Meta(description="Your own key for it; null when none.", examples=["crm-42"]),
    ]
    addresses: Annotated[
        list[ProfileAddress], msgspec.Meta(description="Its addresses, in priority order.")
    ]
    attributes: Annotated[
        dict[str, AttributeValue],
        msgspec.Meta(
            description="Its attributes: strings, numbers and booleans.",
            examples=[{"firstName": "Ada", "plan": "pro", "age": 36, "vip": True}],
        ),
    ]
    time_zone: Annotated[
        str | None,
        msgspec.Meta(description="Its IANA time zone; null when none.", examples=["Europe/Paris"]),
    ]
    created_at: Annotated[Timestamp, msgspec.Meta(description="When it was created.")]
    updated_at: Annotated[Timestamp, msgspec.Meta(description="When it last changed.")]


class ProfilesPage(msgspec.Struct):
    """A page of profiles, newest first."""

    profiles: Annotated[list[ProfileRead], msgspec.Meta(description="The page's profiles.")]
    pagination: Paging


ImportStatus = Literal["PROCESSING", "COMPLETED", "FAILED"]
ImportFormat = Literal["NDJSON", "CSV"]


class ProfileImportError(msgspec.Struct):
    """Why one row of an import was not loaded."""

    row: Annotated[
        int,
        msgspec.Meta(
            description="The line of the body the row starts on (1-based; a CSV header is line 1).",
            examples=[12],
        ),
    ]
    code: Annotated[int, msgspec.Meta(description="The error code.", examples=[21211])]
    message: Annotated[
        str, msgspec.Meta(description="What is wrong.", examples=["Invalid 'To' phone number"])
    ]
    context: Annotated[
        str | None,
        msgspec.Meta(
            description="The JSON path of the offending field in the row (as a profile), "
            "when one is to blame.",
            examples=["$.addresses[0].address"],
        ),
    ] = None


class ProfileImportRead(msgspec.Struct, rename="camel"):
    """A bulk import of profiles and its progress."""

    id: Annotated[ProfileImportId, msgspec.Meta(description="The import's id.")]
    status: Annotated[
        ImportStatus,
        msgspec.Meta(
            title="ProfileImportStatus",
            description="PROCESSING while rows wait; COMPLETED once every row was loaded or "
            "refused; FAILED when no row could be loaded.",
            examples=["PROCESSING"],
        ),
    ]
    format: Annotated[
        ImportFormat,
        msgspec.Meta(title="ProfileImportFormat", description="NDJSON or CSV.", examples=["CSV"]),
    ]
    rows_read: Annotated[
        int, msgspec.Meta(description="Rows in the body (blank lines aside).", examples=[1000])
    ]
    rows_imported: Annotated[
        int, msgspec.Meta(description="Rows loaded into profiles so far.", examples=[990])
    ]
    rows_failed: Annotated[
        int, msgspec.Meta(description="Rows refused so far (see `errors`).", examples=[2])
    ]
    errors: Annotated[
        list[ProfileImportError],
        msgspec.Meta(description="The first 100 refused rows, in row order, with why."),
    ]
    created_at: Annotated[Timestamp, msgspec.Meta(description="When the import was accepted.")]
    updated_at: Annotated[Timestamp, msgspec.Meta(description="When it last progressed.")]
