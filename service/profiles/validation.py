"""A profile's fields checked and normalised, the same for the API and for each import row.

Nothing here does I/O: the import worker runs it on every row it loads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from msgspec import UNSET, UnsetType

from schemas.profiles import (
    MAX_ADDRESSES,
    MAX_ATTRIBUTE_KEY,
    MAX_ATTRIBUTE_VALUE,
    MAX_ATTRIBUTES,
    MAX_EXTERNAL_ID,
    AttributeValue,
    ProfileCreate,
    ProfileUpdate,
)
from service import error_codes
from service.errors import Problem
from service.messages import phone

# The channels a profile's address may be on; PHONE (a recipient's name for it) is SMS.
CHANNELS = {"SMS": "SMS", "PHONE": "SMS", "WHATSAPP": "WHATSAPP", "CONVERSATIONS": "CONVERSATIONS"}
NUL = "\x00"

Attributes = dict[str, AttributeValue]


@dataclass(frozen=True)
class Fields:
    """A checked write: UNSET fields are left as they are; attributes with None are removed."""

    external_id: str | UnsetType | None = UNSET
    addresses: list[dict[str, str]] | UnsetType = UNSET
    attributes: dict[str, AttributeValue | None] | UnsetType = UNSET
    time_zone: str | UnsetType | None = UNSET


@dataclass(frozen=True)
class State:
    """A profile's stored fields."""

    external_id: str | None
    addresses: list[dict[str, str]]
    attributes: Attributes
    time_zone: str | None


EMPTY = State(None, [], {}, None)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _invalid(problems: list[Problem], message: str, context: str) -> None:
    problems.append(Problem(error_codes.INVALID_FIELD.code, message, context))


def check_external_id(value: str, context: str, problems: list[Problem]) -> None:
    if not 1 <= len(value) <= MAX_EXTERNAL_ID or not value.strip():
        _invalid(problems, f"externalId must be 1..{MAX_EXTERNAL_ID} characters", context)
    elif NUL in value:
        _invalid(problems, "externalId must not contain U+0000", context)


def check(body: ProfileCreate | ProfileUpdate) -> tuple[Fields, list[Problem]]:
    """The body's fields, checked (every problem, with its JSON path) and normalised."""
    problems: list[Problem] = []
    if isinstance(body.external_id, str):
        check_external_id(body.external_id, "$.externalId", problems)
    addresses: list[dict[str, str]] | UnsetType = UNSET
    if not isinstance(body.addresses, UnsetType):
        addresses = _check_addresses(
            [(a.channel, a.address) for a in body.addresses], "$.addresses", problems
        )
    attributes: dict[str, AttributeValue | None] | UnsetType = UNSET
    if not isinstance(body.attributes, UnsetType):
        attributes = _check_attributes(body.attributes, "$.attributes", problems)
    if isinstance(body.time_zone, str) and body.time_zone not in _zones():
        _invalid(problems, "timeZone must be an IANA time zone such as Europe/Paris", "$.timeZone")
    fields = Fields(
        external_id=body.external_id,
        addresses=addresses,
        attributes=attributes,
        time_zone=body.time_zone,
    )
    return fields, problems


def _check_addresses(
    items: list[tuple[str, str]], context: str, problems: list[Problem]
) -> list[dict[str, str]]:
    if len(items) > MAX_ADDRESSES:
        _invalid(problems, f"addresses must list at most {MAX_ADDRESSES} addresses", context)
        return []
    checked: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for index, (raw_channel, raw_address) in enumerate(items):
        where = f"{context}[{index}]"
        channel = CHANNELS.get(raw_channel.upper())
        if channel is None:
            _invalid(problems, "channel must be SMS, WHATSAPP or CONVERSATIONS", f"{where}.channel")
            continue
        address = raw_address.strip()
        if channel == "WHATSAPP":
            address = address.removeprefix("whatsapp:")
        if not phone.is_possible_e164(address):
            problems.append(
                Problem(
                    error_codes.INVALID_TO.code,
                    f"{error_codes.INVALID_TO.message}: expected E.164",
                    f"{where}.address",
                )
            )
            continue
        if (channel, address) in seen:
            _invalid(problems, "this address is listed twice on this channel", where)
            continue
        seen.add((channel, address))
        checked.append({"address": address, "channel": channel})
    return checked


def _check_attributes(
    attributes: dict[str, Any], context: str, problems: list[Problem]
) -> dict[str, AttributeValue | None]:
    if len(attributes) > MAX_ATTRIBUTES:
        _invalid(problems, f"attributes may hold at most {MAX_ATTRIBUTES} keys", context)
        return {}
    for key, value in attributes.items():
        where = f"{context}.{key}" if key.isidentifier() else f"{context}[{key!r}]"
        if not 1 <= len(key) <= MAX_ATTRIBUTE_KEY or NUL in key:
            _invalid(
                problems,
                f"an attribute's name must be 1..{MAX_ATTRIBUTE_KEY} characters (no U+0000)",
                where,
            )
        elif isinstance(value, str) and (len(value) > MAX_ATTRIBUTE_VALUE or NUL in value):
            _invalid(
                problems,
                f"an attribute's text must be at most {MAX_ATTRIBUTE_VALUE} characters (no U+0000)",
                where,
            )
        elif isinstance(value, float) and not math.isfinite(value):
            _invalid(problems, "an attribute's number must be finite", where)
        elif value is not None and not isinstance(value, str | int | float | bool):
            _invalid(problems, "an attribute must be a string, a number or a boolean", where)
    return attributes


def merge(state: State, fields: Fields) -> tuple[State, list[Problem]]:
    """The profile after the write (attributes merged key by key), or why it cannot be."""
    attributes = dict(state.attributes)
    if not isinstance(fields.attributes, UnsetType):
        for key, value in fields.attributes.items():
            if value is None:
                attributes.pop(key, None)
            else:
                attributes[key] = value
    problems: list[Problem] = []
    if len(attributes) > MAX_ATTRIBUTES:
        _invalid(
            problems,
            f"the profile would hold {len(attributes)} attributes; at most {MAX_ATTRIBUTES}",
            "$.attributes",
        )
    merged = State(
        external_id=state.external_id
        if isinstance(fields.external_id, UnsetType)
        else fields.external_id,
        addresses=state.addresses if isinstance(fields.addresses, UnsetType) else fields.addresses,
        attributes=attributes,
        time_zone=state.time_zone if isinstance(fields.time_zone, UnsetType) else fields.time_zone,
    )
    return merged, problems
