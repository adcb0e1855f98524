"""A remembered conversation the provider no longer takes (deleted, closed, or forgotten by a
restart) is replaced within the send, once; a lost answer is never taken for one; and a lookup
after a crash follows a replacement back to the conversation it replaced.

Everything runs against the real sandbox and PostgreSQL: through the API and a burst worker,
or through the Conversations channel itself where a test needs the sends side by side.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from service.sending.channel import SendRequest
from service.settings import Settings
from tests.support.api import message_details
from tests.support.clock import TestClock
from tests.support.stack import sandbox_webhooks
from tests.support.workers import settle
from workers import settings as worker_settings
from workers.channels.conversations import ConversationsChannel
from workers.channels.http import ProviderClient

PROXY = "+15017122690"


def new_recipient() -> str:
    """A recipient of the test's own: the conversations table is shared by the session."""
    return f"+1555{secrets.randbelow(10**7):07d}"


def provider_auth(settings: Settings) -> tuple[str, str]:
    return settings.provider_account_sid, settings.provider_auth_token


def channel_on(
    client: ProviderClient, settings: Settings, pool: asyncpg.Pool, clock: TestClock
) -> ConversationsChannel:
    return ConversationsChannel(
        client,
        pool,
        clock,
        base_url=settings.provider_base_url,
        account_sid=settings.provider_account_sid,
        auth_token=settings.provider_auth_token,
    )


@pytest.fixture
async def channel(
    settings: Settings, pool: asyncpg.Pool, clock: TestClock, sandbox: httpx.AsyncClient
) -> AsyncIterator[ConversationsChannel]:
    client = worker_settings.provider_client(settings)
    try:
        yield channel_on(client, settings, pool, clock)
    finally:
        await client.aclose()


def text_to(recipient: str, body: str) -> SendRequest:
    return SendRequest(attempt_id=uuid.uuid4(), to=recipient, from_=PROXY, body=body)


async def remembered(pool: asyncpg.Pool, recipient: str) -> str:
    sid: str = await pool.fetchval(
        "SELECT conversation_sid FROM conversations"
        " WHERE proxy_address = $1 AND recipient_address = $2",
        PROXY,
        recipient,
    )
    return sid


async def provider_get(sandbox: httpx.AsyncClient, settings: Settings, path: str) -> Any:
    response = await sandbox.get(path, auth=provider_auth(settings))
    assert response.status_code == 200, response.text
    return response.json()


async def bodies_in(sandbox: httpx.AsyncClient, settings: Settings, conversation: str) -> list[str]:
    listed = await provider_get(sandbox, settings, f"/v1/Conversations/{conversation}/Messages")
    return [message["body"] for message in listed["messages"]]


async def live_conversations(sandbox: httpx.AsyncClient, settings: Settings) -> list[str]:
    """The conversations the provider has (the sandbox is reset for each test)."""
    listed = await provider_get(sandbox, settings, "/v1/Conversations")
    return [conversation["sid"] for conversation in listed["conversations"]]


async def make_unusable(
    sandbox: httpx.AsyncClient, settings: Settings, conversation: str, how: str
) -> None:
    """What Twilio does to a conversation: delete it, close it; or forget it by restarting."""
    if how == "deleted":
        response = await sandbox.delete(
            f"/v1/Conversations/{conversation}", auth=provider_auth(settings)
        )
        assert response.status_code == 204, response.text
    elif how == "closed":
        response = await sandbox.post(
            f"/v1/Conversations/{conversation}",
            data={"State": "closed"},
            auth=provider_auth(settings),
        )
        assert response.status_code == 200, response.text
    else:
        assert (await sandbox.post("/sandbox/reset")).status_code == 200
        # A reset also points the provider's webhooks back at the session's API.
        await sandbox.post("/sandbox/config", json=sandbox_webhooks(settings.public_base_url))


async def send_through_the_api(client: httpx.AsyncClient, recipient: str, text: str) -> str:
    sent = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": recipient, "channel": "CONVERSATIONS"}],
            "content": {"text": text},
            "from": {"address": PROXY, "channel": "CONVERSATIONS"},
        },
    )
    assert sent.status_code == 202, sent.text
    operation_id: str = sent.json()["operationId"]
    return operation_id


@pytest.mark.parametrize("how", ["deleted", "closed", "forgotten by a restart"])
@pytest.mark.own_stack
async def test_a_conversation_the_provider_no_longer_takes_is_replaced_in_the_send(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    how: str,
) -> None:
    recipient = new_recipient()
    await send_through_the_api(client, recipient, "first")
    await settle(sandbox, settings)
    old = await remembered(pool, recipient)
    await make_unusable(sandbox, settings, old, how)

    operation_id = await send_through_the_api(client, recipient, "second")
    await settle(sandbox, settings)

    [message] = await message_details(client, operation_id)
    assert message["status"] == "DELIVERED", message
    # Replaced within the send: one attempt, no failure recorded, no retry.
    [attempt] = message["attempts"]
    assert attempt["error"] is None
    new = await remembered(pool, recipient)
    assert new != old
    listed = await provider_get(sandbox, settings, f"/v1/Conversations/{new}/Messages")
    assert [(m["sid"], m["body"]) for m in listed["messages"]] == [(attempt["id"], "second")]
    opened = await provider_get(sandbox, settings, f"/v1/Conversations/{new}")
    assert msgspec.json.decode(opened["attributes"]) == {"replaces": old}
    if how == "closed":
        assert await bodies_in(sandbox, settings, old) == ["first"]
        assert sorted(await live_conversations(sandbox, settings)) == sorted([old, new])
    else:
        assert await live_conversations(sandbox, settings) == [new]


async def test_concurrent_sends_after_the_conversation_vanished_share_one_new_one(
    channel: ConversationsChannel,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    recipient = new_recipient()
    assert (await channel.send(text_to(recipient, "opening"))).verdict == "ACCEPTED"
    for round_ in range(3):
        vanished = await remembered(pool, recipient)
        await make_unusable(sandbox, settings, vanished, "deleted")

        results = await asyncio.gather(
            channel.send(text_to(recipient, f"round {round_}, first")),
            channel.send(text_to(recipient, f"round {round_}, second")),
        )

        assert [r.verdict for r in results] == ["ACCEPTED", "ACCEPTED"], results
        new = await remembered(pool, recipient)
        assert new != vanished
        # One conversation is left: a second one opened in the race was dropped when the
        # provider answered 50416 naming the first, and both messages went there.
        assert await live_conversations(sandbox, settings) == [new]
        listed = await provider_get(sandbox, settings, f"/v1/Conversations/{new}/Messages")
        assert {m["sid"] for m in listed["messages"]} == {r.provider_sid for r in results}


async def test_a_second_refusal_is_classified_as_any_other(
    channel: ConversationsChannel,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    """A body the provider refuses (over 1600 characters: 20001) meets the 404 first, the
    refusal only in the new conversation; it is not tried a third time."""
    recipient = new_recipient()
    assert (await channel.send(text_to(recipient, "opening"))).verdict == "ACCEPTED"
    old = await remembered(pool, recipient)
    await make_unusable(sandbox, settings, old, "deleted")

    result = await channel.send(text_to(recipient, "x" * 1601))

    assert (result.verdict, result.error_code) == ("PERMANENT", 20001), result
    new = await remembered(pool, recipient)
    assert new != old
    assert await live_conversations(sandbox, settings) == [new]
    assert await bodies_in(sandbox, settings, new) == []


async def test_a_lost_answer_is_not_taken_for_a_vanished_conversation(
    channel: ConversationsChannel,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    clock: TestClock,
) -> None:
    recipient = new_recipient()
    assert (await channel.send(text_to(recipient, "opening"))).verdict == "ACCEPTED"
    old = await remembered(pool, recipient)
    await make_unusable(sandbox, settings, old, "deleted")
    slow = await sandbox.post("/sandbox/config", json={"latency_ms": 2000})
    assert slow.status_code == 200, slow.text
    impatient = ProviderClient(timeout_s=0.2, max_connections=2)
    try:
        result = await channel_on(impatient, settings, pool, clock).send(
            text_to(recipient, "did it go?")
        )
    finally:
        await impatient.aclose()
        await sandbox.post("/sandbox/config", json={"latency_ms": 0})

    assert result.verdict == "UNKNOWN", result
    # Nothing was replaced or opened on a guess.
    assert await remembered(pool, recipient) == old
    assert await live_conversations(sandbox, settings) == []


async def test_a_lookup_after_a_crash_follows_the_replaced_conversation(
    channel: ConversationsChannel,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    recipient = new_recipient()
    began = datetime.now(UTC)
    earlier = text_to(recipient, "before the close")
    earlier_sid = (await channel.send(earlier)).provider_sid
    old = await remembered(pool, recipient)
    await make_unusable(sandbox, settings, old, "closed")
    later = text_to(recipient, "after the close")
    later_sid = (await channel.send(later)).provider_sid
    assert await remembered(pool, recipient) != old

    async def look_up(request: SendRequest, since: datetime) -> list[str]:
        return await channel.find_submitted(
            attempt_id=request.attempt_id,
            to=recipient,
            from_=PROXY,
            since=since,
            body=request.body,
        )

    # The earlier message is in the closed conversation the remembered one replaced.
    assert await look_up(earlier, began) == [earlier_sid]
    assert await look_up(later, began) == [later_sid]
    # An attempt begun after the replacement was opened cannot be in the one it replaced:
    # the lookup does not go back there.
    assert await look_up(earlier, datetime.now(UTC) + timedelta(minutes=5)) == []
    # A conversation the provider no longer has holds nothing to find, and says so.
    await make_unusable(sandbox, settings, await remembered(pool, recipient), "deleted")
    assert await look_up(later, began) == []
