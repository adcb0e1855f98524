"""When to send again after a transient provider answer: a schedule as data and one function
(the same shape as service/webhooks/retries.py)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from service.backoff import delay_s

# Base delays in seconds by try number; the last repeats. Full jitter spreads a burst of
# failures so retries do not arrive together.
SCHEDULE_S = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 120.0, 300.0)
RETRY_AFTER_MIN_S = 0.5
RETRY_AFTER_MAX_S = 300.0


def next_try_at(
    now: datetime, failures: int, retry_after_s: float | None, rng: random.Random
) -> datetime:
    """The time of the next try after `failures` transient failures in a row (1-based)."""
    bounds = (RETRY_AFTER_MIN_S, RETRY_AFTER_MAX_S)
    delay = delay_s(SCHEDULE_S, failures, retry_after_s, bounds, rng)
    return now + timedelta(seconds=delay)
