"""Wire contracts of the Audiences resource: static lists of profiles, or a filter on their
attributes evaluated at send time."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from schemas.common import Paging, Timestamp, typeid_pattern
from schemas.profiles import ProfileRead

MAX_DISPLAY_NAME = 256
# Profile ids per POST or DELETE of /v1/Audiences/{id}/Members.
MAX_MEMBER_CHANGE = 10_000
# Clauses (fields) of one filter, and values of one `in`.
MAX_FILTER_CLAUSES = 20
MAX_IN_VALUES = 100
# An attribute's name in a filter key (`attributes.<name>`).
MAX_ATTRIBUTE_NAME = 128

AudienceId = Annotated[
    str,
    msgspec.Meta(
        description="An audience's id.",
        examples=["comms_audience_01m8h0jzqsechs3yv6kh2qxj5t"],
        extra_json_schema={"pattern": typeid_pattern("comms_audience")},
    ),
]
ProfileId = Annotated[
    str,
    msgspec.Meta(
        description="A profile's id.",
        examples=["comms_profile_01m8h0jzqsechs3yv6kh2qxj5v"],
        extra_json_schema={"pattern": typeid_pattern("comms_profile")},
    ),
]

FILTER_TEXT = (
    "Selects profiles by their attributes, evaluated at send time; every clause must match. "
    'Keys are `attributes.<name>`; a value is an equality (`"pro"`, `36`, `true`) or an '
    'object of operators: `{"in": [..1..100 values]}`, numeric ranges with `gt`, `gte`, '
    '`lt`, `lte` (combinable), or `{"exists": true|false}`. At most 20 clauses. Without a '
    "filter the audience is a static list of profiles (its Members)."
)
_Filter = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description=FILTER_TEXT,
        examples=[{"attributes.plan": {"in": ["pro", "team"]}, "attributes.age": {"gte": 18}}],
        extra_json_schema={"minProperties": 1, "maxProperties": MAX_FILTER_CLAUSES},
    ),
]
_DisplayName = Annotated[
    str,
    msgspec.Meta(
        description="A name for people, 1..256 characters.",
        examples=["Pro customers"],
        extra_json_schema={"minLength": 1, "maxLength": MAX_DISPLAY_NAME},
    ),
]


class AudienceCreate(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """An audience: a static list of profiles (no filter), or a filter on profile attributes."""

    display_name: _DisplayName
    filter: _Filter | None = None


class AudienceRead(msgspec.Struct, rename="camel", kw_only=True):
    """An audience of this account."""

    id: Annotated[AudienceId, msgspec.Meta(description="The audience's id.")]
    display_name: Annotated[str, msgspec.Meta(description="Its name.", examples=["Pro customers"])]
    filter: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(
            description="Its filter on profile attributes; null for a static list.",
            examples=[{"attributes.plan": "pro"}],
        ),
    ]
    size: Annotated[
        int | None,
        msgspec.Meta(
            description="Fetch only (null in lists): a static list's member count, or the "
            "number of profiles a filter matches now.",
            examples=[1250],
        ),
    ]
    created_at: Annotated[Timestamp, msgspec.Meta(description="When it was created.")]
    updated_at: Annotated[Timestamp, msgspec.Meta(description="When it last changed.")]


class AudiencesPage(msgspec.Struct):
    """A page of audiences, newest first."""

    audiences: Annotated[list[AudienceRead], msgspec.Meta(description="The page's audiences.")]
    pagination: Paging


class AudienceMembersChange(msgspec.Struct, kw_only=True, rename="camel"):
    """Profiles to add to (or remove from) a static audience."""

    profile_ids: Annotated[
        list[str],
        msgspec.Meta(
            description="1..10,000 profile ids of this account. Adding a member twice, or "
            "removing one that is not a member, changes nothing. An unknown id (or another "
            "account's) fails the whole call with 400 (90051) naming it; nothing changes.",
            examples=[["comms_profile_01m8h0jzqsechs3yv6kh2qxj5v"]],
            extra_json_schema={
                "minItems": 1,
                "maxItems": MAX_MEMBER_CHANGE,
                "items": {"pattern": typeid_pattern("comms_profile")},
            },
        ),
    ]


class AudienceMembersChanged(msgspec.Struct, rename="camel", kw_only=True):
    """What a change of members did."""

    changed: Annotated[
        int,
        msgspec.Meta(
            description="Profiles added (POST) or removed (DELETE) by this call: those already "
            "members (or not members) are not counted.",
            examples=[2],
        ),
    ]
    size: Annotated[int, msgspec.Meta(description="Members after the call.", examples=[1252])]


class AudienceMembersPage(msgspec.Struct):
    """A page of an audience's profiles, in profile id order (oldest first)."""

    profiles: Annotated[list[ProfileRead], msgspec.Meta(description="The page's profiles.")]
    pagination: Paging
