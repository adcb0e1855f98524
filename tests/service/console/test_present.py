"""What the console computes for its pages: bars, masked numbers, error descriptions."""

from __future__ import annotations

import pytest

from schemas.operations import OperationRead, OperationStats
from service.console import present


def operation(status: str = "PROCESSING", **counts: int) -> OperationRead:
    names = ("scheduled", "queued", "sent", "delivered", "read", "undelivered", "failed")
    values = {name: counts.get(name, 0) for name in (*names, "canceled")}
    total = sum(values.values())
    stats = OperationStats(total=total, recipients=total, attempts=0, unaddressable=0, **values)
    return OperationRead(
        id="comms_operation_01m8h0jzqsechs3yv6kh2qxj5m",
        status=status,  # type: ignore[arg-type]
        tags={},
        stats=stats,
        created_at="2026-11-25T10:00:00.000Z",
        updated_at="2026-11-25T10:00:00.000Z",
    )


def test_the_bar_counts_what_no_longer_waits_and_rounds_down() -> None:
    bar = present.progress(operation(delivered=1, queued=2))
    assert bar.percent == 33
    assert [s.status for s in bar.segments] == list(present.BAR_STATUSES)
    widths = {s.status: s.width for s in bar.segments}
    assert widths["delivered"] == pytest.approx(33.333)
    assert widths["queued"] == pytest.approx(66.667)
    queued = next(s for s in bar.segments if s.status == "queued")
    assert queued.x == pytest.approx(33.333)
    assert present.progress(operation(delivered=999, queued=1)).percent == 99
    assert bar.label == "33% processed: 1 delivered, 2 queued"


def test_finished_means_ended_with_no_message_waiting() -> None:
    assert not present.progress(operation(delivered=1, queued=1)).finished
    assert not present.progress(operation("COMPLETED", delivered=1, sent=1)).finished
    assert present.progress(operation("COMPLETED", delivered=1, failed=1)).finished
    assert present.progress(operation("CANCELED", canceled=2)).finished


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("+15558675310", "+15••••••310"),
        ("whatsapp:+447700900123", "whatsapp:+44•••••••123"),
        ("+3312345", "+33••345"),
        ("ACME", "ACME"),
        ("MG0123456789abcdef0123456789abcdef", "MG0123456789abcdef0123456789abcdef"),
        ("", ""),
        (None, ""),
    ],
)
def test_phone_numbers_are_masked(address: str | None, shown: str) -> None:
    assert present.mask_phone(address) == shown


def test_error_descriptions_come_from_the_catalogue() -> None:
    assert present.error_description(21211) == "Invalid 'To' phone number"
    assert present.error_description(30003) == "Unreachable destination handset"
    assert present.error_description(21612, "cannot route") == "cannot route"
    assert "catalogue" in present.error_description(21612)
    assert present.error_description(None) == "No error code given"


def test_tags_typed_loosely_become_the_apis_filter() -> None:
    assert present.tags_query("campaign:spring") == "campaign:spring;"
    assert present.tags_query(" campaign:spring ; wave:2; ") == "campaign:spring;wave:2;"
    assert present.tags_query("  ") is None
