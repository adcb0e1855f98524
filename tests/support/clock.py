"""A clock the app and the workers read, that a test may pin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass
class TestClock:
    """Real time unless a test pins it."""

    __test__ = False  # a helper, not a test class

    pinned: datetime | None = None

    def __call__(self) -> datetime:
        return self.pinned or datetime.now(UTC)
