"""The API's one timestamp format: RFC 3339, UTC, milliseconds (truncated, as isoformat does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.clock import rfc3339, rfc3339_or_none


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC), "2026-11-25T10:00:00.123Z"),
        (datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC), "2026-11-25T10:00:00.000Z"),
        (datetime(2026, 11, 25, 10, 0, 0, 999, tzinfo=UTC), "2026-11-25T10:00:00.000Z"),
        (datetime(2026, 11, 25, 10, 0, 0, 1000, tzinfo=UTC), "2026-11-25T10:00:00.001Z"),
        (datetime(2026, 11, 25, 10, 0, 59, 999999, tzinfo=UTC), "2026-11-25T10:00:59.999Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000Z"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "9999-12-31T23:59:59.999Z"),
        # Another zone's time is shown in UTC.
        (
            datetime(2026, 11, 25, 1, 30, 0, 250000, tzinfo=timezone(timedelta(hours=2))),
            "2026-11-24T23:30:00.250Z",
        ),
    ],
)
def test_timestamps_are_utc_with_milliseconds(moment: datetime, text: str) -> None:
    assert rfc3339(moment) == text


def test_every_microsecond_of_a_second_truncates_to_its_millisecond() -> None:
    base = datetime(2026, 12, 3, 19, 12, 23, tzinfo=UTC)
    for micro in range(0, 1_000_000, 997):
        moment = base.replace(microsecond=micro)
        assert rfc3339(moment) == f"2026-12-03T19:12:23.{micro // 1000:03d}Z"


def test_none_stays_none() -> None:
    assert rfc3339_or_none(None) is None
    assert rfc3339_or_none(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00.000Z"
