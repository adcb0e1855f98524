"""Backoff with jitter: a schedule of base delays as data and one pure function over it."""

from __future__ import annotations

import random
from collections.abc import Sequence


def delay_s(
    schedule: Sequence[float],
    failures: int,
    retry_after_s: float | None,
    retry_after_bounds: tuple[float, float],
    rng: random.Random,
) -> float:
    """Seconds to wait after `failures` failures in a row (1-based).

    A Retry-After the other side gave is honoured within bounds; otherwise the schedule's base
    delay for this try (the last repeats) with half jitter, so a burst of failures does not come
    back all at once.
    """
    if retry_after_s is not None:
        low, high = retry_after_bounds
        return min(max(retry_after_s, low), high)
    base = schedule[min(max(failures, 1), len(schedule)) - 1]
    return base / 2 + rng.random() * base / 2
