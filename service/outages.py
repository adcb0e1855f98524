"""An outage of Redis, logged once every few seconds rather than once per call that felt it.

The API carries on without Redis (the request quota lets requests through, a dispatch job is
skipped: see service.quotas and service.queue), so during an outage every request meets it.
One warning line per interval says so, with how many calls went without Redis since the last
line; one more line says when Redis answers again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

WARN_EVERY_S = 5.0


class Logger(Protocol):
    def warning(self, event: str, **fields: Any) -> Any: ...

    def info(self, event: str, **fields: Any) -> Any: ...


class OutageLog:
    """What this process saw of Redis failing, shared by every caller in the process: at most
    one line per interval, whether Redis fails or comes back."""

    def __init__(
        self,
        interval_s: float = WARN_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        logger: Logger = log,
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._log = logger
        self._logged_at: float | None = None
        self._in_outage = False
        self._failed_calls = 0  # since the last line

    def failed(self, doing_without: str, error: BaseException) -> None:
        """A call could not reach Redis; `doing_without` says what was done instead."""
        self._in_outage = True
        self._failed_calls += 1
        if not self._may_log():
            return
        self._log.warning(
            "Redis unavailable; carrying on without it",
            doing_without=doing_without,
            error=repr(error),
            failed_calls=self._failed_calls,
        )
        self._failed_calls = 0

    def answered(self) -> None:
        """A call reached Redis: an outage that was logged is over (said once it may be)."""
        if not self._in_outage or not self._may_log():
            return
        self._log.info("Redis answers again", failed_calls=self._failed_calls)
        self._in_outage = False
        self._failed_calls = 0

    def _may_log(self) -> bool:
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < self._interval_s:
            return False
        self._logged_at = now
        return True
