"""Receipts applied in groups: each request still gets its own outcome, in arrival order."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.messages import AttemptStatus
from service.callbacks import logic
from service.callbacks.batching import ReceiptGroups
from service.callbacks.store import Applied, Receipt
from service.settings import Settings
from tests.support.provider import NO_RECEIPT, form_for, post_callback
from tests.support.workers import run_worker

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def receipt(status: AttemptStatus) -> Receipt:
    return Receipt(uuid.uuid4(), None, status, None, None, NOW)


async def test_receipts_that_arrive_while_a_group_is_applied_go_together() -> None:
    groups: list[list[str]] = []
    release = asyncio.Event()

    async def apply(receipts: Sequence[Receipt]) -> list[Applied | None]:
        groups.append([r.status for r in receipts])
        await release.wait()
        if "FAILED" in groups[-1]:
            raise ConnectionError("database went away")
        return [Applied(r.attempt_id or uuid.uuid4(), r.status == "UNDELIVERED") for r in receipts]

    receipts = ReceiptGroups(apply)
    first = asyncio.create_task(receipts.apply(receipt("SENT")))
    await asyncio.sleep(0)  # the first group starts with the first receipt alone
    later = [asyncio.create_task(receipts.apply(receipt(s))) for s in ("DELIVERED", "UNDELIVERED")]
    await asyncio.sleep(0)
    assert groups == [["SENT"]]
    release.set()
    results = await asyncio.gather(first, *later)
    assert groups == [["SENT"], ["DELIVERED", "UNDELIVERED"]]
    assert [r.fallback if r else None for r in results] == [False, False, True]

    # A group that fails fails its own requests only; the next group is applied as usual.
    failing = asyncio.create_task(receipts.apply(receipt("FAILED")))
    await asyncio.sleep(0)
    after = asyncio.create_task(receipts.apply(receipt("READ")))
    with pytest.raises(ConnectionError):
        await failing
    assert await after is not None
    assert groups[-2:] == [["FAILED"], ["READ"]]


async def sent_messages(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, count: int
) -> list[tuple[str, dict[str, Any]]]:
    """`count` messages handed over and SENT (the sandbox sends no delivery receipt)."""
    sent = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": NO_RECEIPT, "channel": "PHONE"}] * count,
            "content": {"text": "hi"},
            "from": {"address": "+15017122668", "channel": "SMS"},
        },
    )
    assert sent.status_code == 202
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")
    page = await client.get(
        "/v1/Messages", params={"operationId": sent.json()["operationId"], "pageSize": count}
    )
    messages = []
    for item in page.json()["messages"]:
        message = (await client.get(f"/v1/Messages/{item['id']}")).json()
        assert message["status"] == "SENT"
        messages.append((item["id"], message["attempts"][0]))
    return messages


@pytest.mark.own_stack
async def test_many_receipts_for_the_same_messages_in_one_call_apply_in_order(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    messages = await sent_messages(client, sandbox, settings, 6)
    sids = [attempt["id"] for _, attempt in messages]
    by_sid = [
        Receipt(None, sid, status, None, None, NOW)
        for sid in sids
        for status in ("DELIVERED", "SENT", "READ")
    ]
    # Interleaved: each message's receipts are spread over the call, some repeated.
    receipts = by_sid[0::3] + by_sid[1::3] + by_sid[2::3] + by_sid[2::3]
    applied = await logic.apply_receipts(pool, receipts)
    moved = [r.status for r, a in zip(receipts, applied, strict=True) if a is not None]
    # DELIVERED then READ move each message; the late SENT and the repeated READ do not.
    assert moved == ["DELIVERED"] * 6 + ["READ"] * 6
    for message_id, _ in messages:
        message = (await client.get(f"/v1/Messages/{message_id}")).json()
        assert (message["status"], message["attempts"][0]["status"]) == ("READ", "READ")


@pytest.mark.own_stack
async def test_concurrent_callbacks_end_every_message_at_its_furthest_status(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    messages = await sent_messages(client, sandbox, settings, 30)
    forms = [
        form_for(attempt, status)
        for _, attempt in messages
        for status in ("sent", "delivered", "delivered", "sent")
    ]
    random.Random(7).shuffle(forms)
    answers = await asyncio.gather(*(post_callback(settings, form) for form in forms))
    assert {answer.status_code for answer in answers} == {204}
    operation = (await client.get(f"/v1/Messages/{messages[0][0]}")).json()["operationId"]
    stats = (await client.get(f"/v1/Messages/Operations/{operation}")).json()["stats"]
    assert stats["delivered"] == 30
    assert stats["sent"] == 0
