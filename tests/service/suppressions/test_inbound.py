"""The incoming-message webhook: STOP / START from a handset, whose accounts, repeats, signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from service.settings import Settings
from tests.support.api import messages_of, operation, register_sender, send, suppressed
from tests.support.provider import (
    INBOUND_PATH,
    handset_says,
    inbound_form,
    post_inbound,
    sandbox_sends_to,
    sign,
    unique_number,
)
from tests.support.tenants import other_tenant
from tests.support.workers import run_worker


def in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.own_stack
async def test_stop_from_the_handset_fails_later_sends_with_21610_and_no_provider_call(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    number, handset, other = unique_number(), unique_number(), unique_number()
    await register_sender(client, number)

    result = await handset_says(sandbox, handset, number, "  Stop ")
    assert result["webhook"]["body"] == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    [entry] = await suppressed(client, handset)
    assert entry["address"] == handset
    assert entry["source"] == "INBOUND"
    assert entry["createdAt"].endswith("Z")

    sent = await send(client, [handset, other], **{"from": {"address": number, "channel": "SMS"}})
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")
    by_address = {m["to"][0]["address"]: m for m in await messages_of(client, sent)}
    assert by_address[handset]["status"] == "FAILED"
    assert by_address[other]["status"] == "DELIVERED"
    detail = (await client.get(f"/v1/Messages/{by_address[handset]['id']}")).json()
    assert detail["attempts"] == [], "no provider call was made"
    assert await sandbox_sends_to(sandbox, handset) == []
    assert len(await sandbox_sends_to(sandbox, other)) == 1
    errors = (await client.get(f"/v1/Messages/Operations/{sent}/Errors")).json()
    assert errors["counts"] == [{"code": 21610, "count": 1}]
    assert errors["errors"][0]["error"]["code"] == 21610
    fetched = await operation(client, sent)
    assert fetched["status"] == "COMPLETED"
    assert (fetched["stats"]["failed"], fetched["stats"]["delivered"]) == (1, 1)
    assert fetched["stats"]["attempts"] == 1


@pytest.mark.own_stack
async def test_stop_cancels_the_recipients_waiting_messages_of_the_accounts_that_sent_to_it(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    # The number is not registered: the account is found by what it sent from it to the handset.
    number, handset, other = unique_number(), unique_number(), unique_number()
    sender = {"from": {"address": number, "channel": "SMS"}}
    earlier = await send(client, [handset], **sender)
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")
    schedule = {"schedule": {"sendAt": [in_an_hour()]}}
    only_handset = await send(client, [handset], **sender, **schedule)
    mixed = await send(client, [handset, other], **sender, **schedule)
    # Another account sent to the handset from another number: not its opt-out.
    stranger = await other_tenant(pool)
    async with httpx.AsyncClient(base_url=settings.public_base_url, auth=stranger.auth) as theirs:
        untouched = await send(theirs, [handset], **schedule)

        await handset_says(sandbox, handset, number, "STOP")

        assert [m["status"] for m in await messages_of(theirs, untouched)] == ["SCHEDULED"]
        assert await suppressed(theirs, handset) == []

    assert [m["status"] for m in await messages_of(client, earlier)] == ["DELIVERED"]
    assert [m["status"] for m in await messages_of(client, only_handset)] == ["CANCELED"]
    done = await operation(client, only_handset)
    assert done["status"] == "COMPLETED", "nothing is left waiting"
    assert done["stats"]["canceled"] == done["stats"]["total"] == 1
    statuses = {m["to"][0]["address"]: m["status"] for m in await messages_of(client, mixed)}
    assert statuses == {handset: "CANCELED", other: "SCHEDULED"}
    waiting = await operation(client, mixed)
    assert waiting["status"] == "SCHEDULED"
    assert (waiting["stats"]["canceled"], waiting["stats"]["scheduled"]) == (1, 1)


@pytest.mark.own_stack
async def test_start_lifts_the_suppression_and_sends_go_out_again(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    number, handset = unique_number(), unique_number()
    await register_sender(client, number)
    await handset_says(sandbox, handset, number, "quit")
    assert len(await suppressed(client, handset)) == 1
    await handset_says(sandbox, handset, number, "unstop")
    assert await suppressed(client, handset) == []
    await handset_says(sandbox, handset, number, "START")  # lifting twice is harmless

    sent = await send(client, [handset], **{"from": {"address": number, "channel": "SMS"}})
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")
    assert [m["status"] for m in await messages_of(client, sent)] == ["DELIVERED"]
    assert len(await sandbox_sends_to(sandbox, handset)) == 1


@pytest.mark.parametrize(
    ("body", "opts_out"),
    [
        ("STOP", True),
        ("stopall", True),
        (" Unsubscribe\n", True),
        ("CANCEL", True),
        ("end", True),
        ("Quit", True),
        ("STOP please", False),
        ("STOP!", False),
        ("hello", False),
        ("", False),
        ("START", False),
    ],
)
async def test_only_a_whole_keyword_body_opts_out(
    client: httpx.AsyncClient, settings: Settings, body: str, opts_out: bool
) -> None:
    number, handset = unique_number(), unique_number()
    await register_sender(client, number)
    response = await post_inbound(settings, inbound_form(handset, number, body))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert len(await suppressed(client, handset)) == int(opts_out)


async def test_a_wrong_or_missing_signature_is_a_403_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    number, handset = unique_number(), unique_number()
    await register_sender(client, number)
    form = inbound_form(handset, number, "STOP")
    for signature in ("bm9wZQ==", ""):
        response = await post_inbound(settings, form, signature=signature)
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == 20403
    # A valid signature of another body.
    response = await post_inbound(
        settings, {**form, "Body": "STOP "}, signature=sign(settings, INBOUND_PATH, form)
    )
    assert response.status_code == 403
    assert await suppressed(client, handset) == []


async def test_a_repeated_webhook_is_applied_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    number, handset = unique_number(), unique_number()
    await register_sender(client, number)
    stop = inbound_form(handset, number, "STOP")
    start = inbound_form(handset, number, "START")
    for form in (stop, stop, start):
        assert (await post_inbound(settings, form)).status_code == 200
    assert await suppressed(client, handset) == []
    # The STOP delivered again after the START (a provider retry) does not undo the START.
    assert (await post_inbound(settings, stop)).status_code == 200
    assert await suppressed(client, handset) == []


@pytest.mark.own_stack
async def test_whatsapp_stop_suppresses_the_number_on_every_channel(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    number, handset, sms_number = unique_number(), unique_number(), unique_number()
    await register_sender(client, number, channel="WHATSAPP")
    form = inbound_form(f"whatsapp:{handset}", f"whatsapp:{number}", "STOP")
    assert (await post_inbound(settings, form)).status_code == 200
    [entry] = await suppressed(client, f"whatsapp:{handset}")
    assert entry["address"] == handset

    sent = await send(client, [handset], **{"from": {"address": sms_number, "channel": "SMS"}})
    await run_worker(settings)
    [message] = await messages_of(client, sent)
    assert message["status"] == "FAILED"
    assert await sandbox_sends_to(sandbox, handset) == []


async def test_a_stop_to_a_number_no_account_uses_changes_nothing(
    client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    handset = unique_number()
    for form in (
        inbound_form(handset, unique_number(), "STOP"),
        inbound_form("not-a-number", unique_number(), "STOP"),
        {"Body": "STOP"},
    ):
        response = await post_inbound(settings, form)
        assert response.status_code == 200, response.text
    count = await pool.fetchval("SELECT count(*) FROM suppressions WHERE address = $1", handset)
    assert count == 0
