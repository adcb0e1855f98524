"""Wall-clock time and Twilio's two date formats."""

from __future__ import annotations

import time
from datetime import UTC, datetime

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Clock:
    """Epoch seconds with an offset that tests move forward (`POST /sandbox/clock`)."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def now(self) -> float:
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds

    def reset(self) -> None:
        self.offset_s = 0.0


def format_rfc2822(epoch_s: float) -> str:
    """`Thu, 30 Jul 2015 20:12:31 +0000`, as the 2010-04-01 API writes dates (locale-free)."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
        f"{moment.year} {moment:%H:%M:%S} +0000"
    )


def format_iso8601(epoch_s: float) -> str:
    """`2015-12-16T22:18:37Z`, as the v1 APIs (Conversations) write dates."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
