"""Checking list filters given as text (query strings, search bodies), every problem at once.

Each check takes the value, the JSON path to name in an error (`$.status`) and a collector, and
returns the normalised value or None; the caller raises once with everything collected.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from datetime import datetime

from service import error_codes, ids
from service.errors import Problem, ValidationFailed

MAX_TAG_PAIRS = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
_TAGS_QUERY = re.compile(r"^(?:[a-zA-Z0-9._~-]+:[a-zA-Z0-9._~-]+;){1,10}$")
_TAG_PAIR = re.compile(r"([a-zA-Z0-9._~-]+):([a-zA-Z0-9._~-]+);")
MAX_ADDRESS = 64


class FilterProblems:
    """Collects what is wrong with a list request's filters."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, message: str, context: str) -> None:
        self.problems.append(Problem(error_codes.INVALID_FIELD.code, message, context))

    def raise_any(self) -> None:
        if self.problems:
            raise ValidationFailed(self.problems)


def typeid(
    value: str | None, prefix: str, context: str, problems: FilterProblems
) -> uuid.UUID | None:
    if value is None:
        return None
    key = ids.decode(prefix, value)
    if key is None:
        problems.add(f"{context.removeprefix('$.')} is not a {prefix} id", context)
    return key


def choice(
    value: str | None, allowed: Collection[str], context: str, problems: FilterProblems
) -> str | None:
    """An enum value, matched case-insensitively; the uppercase form."""
    if value is None:
        return None
    upper = value.upper()
    if upper not in allowed:
        name = context.removeprefix("$.")
        problems.add(f"{name} must be one of {', '.join(allowed)}", context)
        return None
    return upper


def timestamp(value: str | None, context: str, problems: FilterProblems) -> datetime | None:
    """An RFC 3339 date-time with an offset or Z; fractions of a second are optional."""
    if value is None:
        return None
    name = context.removeprefix("$.")
    # An unencoded `+` of an offset arrives as a space in a query string.
    text = value.strip().replace(" ", "+")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        problems.add(f"{name} is not an RFC 3339 date-time", context)
        return None
    if "T" not in text.upper() or parsed.tzinfo is None:
        problems.add(f"{name} must be an RFC 3339 date-time with an offset or Z", context)
        return None
    return parsed


def date_range(
    start: datetime | None, end: datetime | None, context: str, problems: FilterProblems
) -> None:
    if start is not None and end is not None and end <= start:
        problems.add("endDate must be later than startDate", context)


def address(value: str | None, context: str, problems: FilterProblems) -> str | None:
    """A recipient address as stored: E.164 without a `whatsapp:` prefix."""
    if value is None:
        return None
    bare = value.strip().removeprefix("whatsapp:")
    if not bare or len(bare) > MAX_ADDRESS:
        problems.add(f"address must be 1..{MAX_ADDRESS} characters", context)
        return None
    return bare


def tags_query(value: str | None, context: str, problems: FilterProblems) -> dict[str, str] | None:
    """`k:v;k2:v2;` (every pair must match) as a map."""
    if value is None:
        return None
    if not _TAGS_QUERY.fullmatch(value):
        problems.add(
            "tags must look like key:value;key2:value2; (1..10 pairs of letters, digits, "
            "'.', '_', '~' or '-')",
            context,
        )
        return None
    pairs = _TAG_PAIR.findall(value)
    return _tag_map(pairs, context, problems)


def tags_map(
    value: dict[str, str] | None, context: str, problems: FilterProblems
) -> dict[str, str] | None:
    """A map of pairs that must all match; an empty map filters nothing."""
    if not value:
        return None
    if len(value) > MAX_TAG_PAIRS:
        problems.add(f"tags must hold at most {MAX_TAG_PAIRS} pairs", context)
        return None
    for key, tag_value in value.items():
        if not key or len(key) > MAX_TAG_KEY or len(tag_value) > MAX_TAG_VALUE:
            problems.add(
                f"tag keys are 1..{MAX_TAG_KEY} characters, values at most {MAX_TAG_VALUE}",
                f"{context}.{key}" if key else context,
            )
            return None
    return dict(value)


def _tag_map(
    pairs: list[tuple[str, str]], context: str, problems: FilterProblems
) -> dict[str, str] | None:
    tags: dict[str, str] = {}
    for key, value in pairs:
        if tags.setdefault(key, value) != value:
            # Every pair must match, and a tag has one value: no message could match.
            problems.add(f"tags gives the key {key!r} two different values", context)
            return None
    return tags
