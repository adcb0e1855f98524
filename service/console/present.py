"""What the console's pages show, computed from the API's own read shapes: progress bars,
masked phone numbers, error descriptions, times. Pure functions (the templates and the live
stream both use them, so a bar drawn by the server and one redrawn from the stream agree)."""

from __future__ import annotations

import re
from datetime import datetime

import msgspec

from schemas.operations import OperationRead, OperationStats
from service import error_codes

# Left to right: what is done, then what still waits. Each status has a colour and a pattern
# (static/console.css, templates/patterns.html), so the bar reads in greyscale too.
BAR_STATUSES = (
    "delivered",
    "read",
    "sent",
    "undelivered",
    "failed",
    "canceled",
    "queued",
    "scheduled",
)
WAITING = frozenset({"queued", "scheduled"})
FINAL_OPERATION_STATUSES = frozenset({"COMPLETED", "CANCELED"})
CANCELABLE_OPERATION_STATUSES = frozenset({"SCHEDULED", "PROCESSING"})

_PHONE = re.compile(r"^(whatsapp:)?(\+\d{2})(\d+)(\d{3})$")


class Segment(msgspec.Struct, frozen=True):
    status: str
    count: int
    # Percentages of the bar's width, as SVG attributes.
    x: float
    width: float


class Progress(msgspec.Struct, frozen=True):
    """An operation's bar: how much of it is processed (handed to a provider or finished
    without one), and one segment per message status."""

    id: str
    status: str
    total: int
    percent: int
    finished: bool
    segments: list[Segment]

    @property
    def label(self) -> str:
        """The bar in words (its accessible value)."""
        counts = ", ".join(f"{s.count} {s.status}" for s in self.segments if s.count)
        return f"{self.percent}% processed" + (f": {counts}" if counts else "")


def _count(stats: OperationStats, status: str) -> int:
    value: int = getattr(stats, status)
    return value


def progress(operation: OperationRead) -> Progress:
    stats = operation.stats
    total = stats.total
    waiting = sum(_count(stats, status) for status in WAITING)
    # Rounded down: 100% only once nothing waits.
    percent = (total - waiting) * 100 // total if total else 100
    segments: list[Segment] = []
    x = 0.0
    for status in BAR_STATUSES:
        count = _count(stats, status)
        width = round(count * 100 / total, 3) if total else 0.0
        segments.append(Segment(status=status, count=count, x=round(x, 3), width=width))
        x += width
    return Progress(
        id=operation.id,
        status=operation.status,
        total=total,
        percent=percent,
        finished=is_finished(operation),
        segments=segments,
    )


def is_finished(operation: OperationRead) -> bool:
    """Nothing about it changes any more: the operation ended and no message waits for a
    provider or a receipt (the same test that ends its event stream)."""
    stats = operation.stats
    return (
        operation.status in FINAL_OPERATION_STATUSES
        and stats.scheduled == 0
        and stats.queued == 0
        and stats.sent == 0
    )


def mask_phone(address: str | None) -> str:
    """A phone number with all but its first two and last three digits hidden
    (`+15558675310` → `+15••••••310`); anything else (an alphanumeric sender, a Messaging
    Service SID) is shown as it is."""
    if not address:
        return ""
    match = _PHONE.match(address)
    if match is None:
        return address
    prefix, head, middle, tail = match.groups()
    return f"{prefix or ''}{head}{'•' * len(middle)}{tail}"


def error_description(code: int | None, recorded: str | None = None) -> str:
    """The catalogue's line for a code (service/error_codes.py), else what was recorded."""
    if code is None:
        return recorded or "No error code given"
    entry = error_codes.CATALOGUE.get(code)
    if entry is not None:
        return entry.summary
    return recorded or "Not in the catalogue: see the code's page at Twilio"


def when(value: str | datetime | None) -> str:
    """A timestamp as the pages print it: `2026-11-25 10:00:00 UTC`."""
    if value is None:
        return ""
    moment = (
        datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    )
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def tags_query(text: str | None) -> str | None:
    """The tag filter as typed (`campaign:spring`, pairs split by `;`) as the API writes it
    (`campaign:spring;`); None when empty."""
    if text is None or not text.strip():
        return None
    pairs = [pair.strip() for pair in text.split(";") if pair.strip()]
    return "".join(f"{pair};" for pair in pairs)
