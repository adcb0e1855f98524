"""An outage of Redis is logged once every few seconds, not once per call that felt it."""

from __future__ import annotations

from structlog.testing import CapturingLogger

from service.outages import OutageLog


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_warning_every_interval_counts_the_calls_in_between() -> None:
    clock = ManualClock()
    logger = CapturingLogger()
    outages = OutageLog(interval_s=5.0, clock=clock, logger=logger)
    for _ in range(100):
        outages.failed("request quota not checked", ConnectionError("refused"))
    clock.now = 4.9
    outages.failed("dispatch job not enqueued", ConnectionError("refused"))
    clock.now = 5.0
    outages.failed("dispatch job not enqueued", ConnectionError("refused"))
    logged = [
        (c.method_name, c.kwargs["doing_without"], c.kwargs["failed_calls"]) for c in logger.calls
    ]
    assert logged == [
        ("warning", "request quota not checked", 1),
        ("warning", "dispatch job not enqueued", 101),
    ]


def test_the_end_of_an_outage_is_said_once() -> None:
    clock = ManualClock()
    logger = CapturingLogger()
    outages = OutageLog(interval_s=5.0, clock=clock, logger=logger)
    outages.answered()  # no outage: nothing to say
    outages.failed("request quota not checked", TimeoutError())
    clock.now = 1.0
    outages.answered()  # within the interval: said once it may be
    clock.now = 6.0
    outages.answered()
    outages.answered()
    assert [(c.method_name, c.args[0]) for c in logger.calls] == [
        ("warning", "Redis unavailable; carrying on without it"),
        ("info", "Redis answers again"),
    ]
