"""The official twilio SDK, unchanged but for the HTTP client's host, against the sandbox."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException

FROM = "+15005550006"
TO = "+14155550100"


async def test_sdk_creates_fetches_and_lists(
    sandbox: Any, twilio_client: Any, receiver: Any
) -> None:
    created = await asyncio.to_thread(
        twilio_client.messages.create,
        to=TO,
        from_=FROM,
        body="Hello from the SDK ✓",
        status_callback=receiver.url("/sdk"),
    )
    assert created.sid.startswith("SM")
    assert created.status == "queued"
    assert created.num_segments == "1"
    assert created.date_created is not None  # the SDK parsed the RFC 2822 date
    assert created.direction == "outbound-api"

    await sandbox.drain()
    fetched = await asyncio.to_thread(twilio_client.messages(created.sid).fetch)
    assert fetched.status == "delivered"
    assert fetched.date_sent is not None
    assert fetched.body == "Hello from the SDK ✓"
    assert [w.form["MessageStatus"] for w in receiver.received] == ["sent", "delivered"]


async def test_sdk_pages_through_next_page_uri(sandbox: Any, twilio_client: Any) -> None:
    sids = []
    for i in range(7):
        message = await asyncio.to_thread(
            twilio_client.messages.create, to=TO, from_=FROM, body=f"n{i}"
        )
        sids.append(message.sid)
    await asyncio.to_thread(twilio_client.messages.create, to="+14155550999", from_=FROM, body="x")

    listed = await asyncio.to_thread(twilio_client.messages.list, to=TO, page_size=3)
    assert [m.sid for m in listed] == list(reversed(sids))

    limited = await asyncio.to_thread(twilio_client.messages.list, from_=FROM, limit=4, page_size=2)
    assert len(limited) == 4

    page = await asyncio.to_thread(twilio_client.messages.page, to=TO, page_size=5)
    first = list(page)
    assert [m.sid for m in first] == list(reversed(sids))[:5]
    second = await asyncio.to_thread(page.next_page)
    assert [m.sid for m in second] == list(reversed(sids))[5:]
    assert second.next_page_url is None
    previous = await asyncio.to_thread(second.previous_page)
    assert [m.sid for m in previous] == [m.sid for m in first]


async def test_sdk_date_sent_filters(sandbox: Any, twilio_client: Any) -> None:
    from datetime import UTC, datetime, timedelta

    await asyncio.to_thread(twilio_client.messages.create, to=TO, from_=FROM, body="dated")
    await sandbox.drain()
    now = datetime.now(UTC)
    after = await asyncio.to_thread(
        twilio_client.messages.list, date_sent_after=now - timedelta(minutes=5)
    )
    before = await asyncio.to_thread(
        twilio_client.messages.list, date_sent_before=now - timedelta(minutes=5)
    )
    assert len(after) == 1
    assert before == []


@pytest.mark.parametrize(
    ("fields", "code", "status"),
    [
        ({"to": "+15005550001", "from_": FROM, "body": "x"}, 21211, 400),
        ({"to": TO, "from_": "+15005550008", "body": "x"}, 21611, 400),
        ({"to": TO, "from_": FROM}, 21602, 400),
    ],
)
async def test_sdk_raises_twilio_errors(
    sandbox: Any, twilio_client: Any, fields: dict[str, str], code: int, status: int
) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(twilio_client.messages.create, **fields)
    assert caught.value.code == code
    assert caught.value.status == status
    assert caught.value.uri.endswith("/Messages.json")


async def test_sdk_fetch_missing_is_404(sandbox: Any, twilio_client: Any) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(twilio_client.messages("SM" + "f" * 32).fetch)
    assert caught.value.status == 404
    assert caught.value.code == 20404
