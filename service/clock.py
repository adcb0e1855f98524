"""Time: an injectable clock and the one timestamp format of the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds: 2026-11-25T10:00:00.123Z."""
    # msgspec writes a UTC datetime as RFC 3339 with microseconds (none when zero), in C: three
    # times faster than isoformat, and every row of a list page has two or three timestamps.
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    text = _encode(utc)  # b'"2026-11-25T10:00:00.123456Z"', or b'"2026-11-25T10:00:00Z"'
    if len(text) > _WHOLE_SECONDS:
        return text[1:24].decode() + "Z"
    return text[1:20].decode() + ".000Z"


_encode = msgspec.json.Encoder().encode
_WHOLE_SECONDS = len(b'"2026-11-25T10:00:00Z"')


def rfc3339_or_none(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment is not None else None
