"""When to try a webhook delivery again: a schedule as data and one pure function."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from service.backoff import delay_s

# Base delays in seconds by try number (the last repeats), with half jitter: about 8 hours
# to the 9th try, then every ~4.5 hours until the retry window (24 h) ends.
SCHEDULE_S = (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 21600.0)
# A receiver's Retry-After (429, 503) is honoured within these bounds.
RETRY_AFTER_BOUNDS_S = (1.0, 3600.0)


def next_try_at(
    now: datetime,
    failures: int,
    retry_after_s: float | None,
    retry_until: datetime,
    rng: random.Random,
) -> datetime | None:
    """The next try after `failures` failed tries (1-based); None once past the window."""
    delay = delay_s(SCHEDULE_S, failures, retry_after_s, RETRY_AFTER_BOUNDS_S, rng)
    due = now + timedelta(seconds=delay)
    return due if due <= retry_until else None
