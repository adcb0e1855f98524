"""SMS, WhatsApp and Conversations end to end, sender pools, and channel fallback."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from service.settings import Settings
from tests.support.api import message_details
from tests.support.workers import settle

# Every test here runs a worker: each gets a database and API of its own.
pytestmark = pytest.mark.own_stack

SMS_SENDER = "+15017122670"
WHATSAPP_SENDER = "+15017122671"
CONVERSATIONS_PROXY = "+15017122672"
NOT_ON_WHATSAPP = "+15005550020"  # the sandbox's "not a WhatsApp user" (63003)


async def make_pool(
    client: httpx.AsyncClient, *senders: tuple[str, str], default: bool = False
) -> str:
    ids = []
    for address, channel in senders:
        response = await client.post(
            "/v1/Senders", json={"address": address, "channel": channel, "mps": 1000}
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    pool = await client.post(
        "/v1/SenderPools", json={"displayName": "everything", "senders": ids, "isDefault": default}
    )
    assert pool.status_code == 201, pool.text
    pool_id: str = pool.json()["id"]
    return pool_id


async def test_one_operation_over_three_channels_is_delivered(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    pool_id = await make_pool(
        client,
        (SMS_SENDER, "SMS"),
        (WHATSAPP_SENDER, "WHATSAPP"),
        (CONVERSATIONS_PROXY, "CONVERSATIONS"),
    )
    # A WhatsApp user who wrote to us opens a 24-hour session for free-form text.
    opened = await sandbox.post(
        "/sandbox/inbound",
        json={"from": "whatsapp:+15558675401", "to": f"whatsapp:{WHATSAPP_SENDER}", "body": "hi"},
    )
    assert opened.status_code == 200, opened.text
    sent = await client.post(
        "/v1/Messages",
        json={
            "to": [
                {"address": "+15558675400", "channel": "PHONE"},
                {"address": "whatsapp:+15558675401", "channel": "WHATSAPP"},
                {"address": "+15558675402", "channel": "CONVERSATIONS"},
            ],
            "content": {"text": "one message, three channels"},
            "from": {"senderPoolId": pool_id},
        },
    )
    assert sent.status_code == 202, sent.text
    await settle(sandbox, settings, rounds=3)
    operation = (await client.get(sent.headers["location"])).json()
    assert operation["status"] == "COMPLETED"
    assert operation["stats"]["delivered"] == 3, operation["stats"]
    assert operation["stats"]["unaddressable"] == 0
    by_channel = {
        m["to"][0]["channel"]: m for m in await message_details(client, sent.json()["operationId"])
    }
    assert by_channel["PHONE"]["attempts"][0]["id"].startswith("SM")
    assert by_channel["PHONE"]["from"]["address"] == SMS_SENDER
    assert by_channel["WHATSAPP"]["attempts"][0]["channel"] == "WHATSAPP"
    assert by_channel["WHATSAPP"]["from"]["address"] == WHATSAPP_SENDER
    assert by_channel["CONVERSATIONS"]["attempts"][0]["id"].startswith("IM")
    assert by_channel["CONVERSATIONS"]["from"]["channel"] == "CONVERSATIONS"
    accepted = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert {m["to"] for m in accepted} >= {"+15558675400", "whatsapp:+15558675401"}


async def test_whatsapp_falls_back_to_sms_after_63003(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    pool_id = await make_pool(client, (WHATSAPP_SENDER, "WHATSAPP"), (SMS_SENDER, "SMS"))
    sent = await client.post(
        "/v1/Messages",
        json={
            "to": [
                {
                    "addresses": [
                        {"address": NOT_ON_WHATSAPP, "channel": "WHATSAPP"},
                        {"address": NOT_ON_WHATSAPP, "channel": "PHONE"},
                    ]
                }
            ],
            "content": {"text": "reach me somehow"},
            "from": {"senderPoolId": pool_id},
        },
    )
    assert sent.status_code == 202, sent.text
    await settle(sandbox, settings, rounds=3)
    [message] = await message_details(client, sent.json()["operationId"])
    assert message["status"] == "DELIVERED"
    first, second = message["attempts"]
    assert (first["channel"], first["status"], first["error"]["code"]) == (
        "WHATSAPP",
        "FAILED",
        63003,
    )
    assert (second["channel"], second["status"], second["error"]) == ("SMS", "DELIVERED", None)
    assert message["to"] == [{"address": NOT_ON_WHATSAPP, "channel": "PHONE"}]
    assert message["from"]["address"] == SMS_SENDER
    operation = (await client.get(sent.headers["location"])).json()
    assert operation["stats"]["attempts"] == 2
    assert operation["stats"]["delivered"] == 1


async def test_a_permanent_refusal_falls_back_at_once(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    """21614 (not a mobile number) is refused when sending: the next channel goes right away."""
    pool_id = await make_pool(client, (SMS_SENDER, "SMS"), (WHATSAPP_SENDER, "WHATSAPP"))
    await sandbox.post(
        "/sandbox/inbound",
        json={"from": "whatsapp:+15558675450", "to": f"whatsapp:{WHATSAPP_SENDER}", "body": "hi"},
    )
    sent = await client.post(
        "/v1/Messages",
        json={
            "to": [
                {
                    "addresses": [
                        {"address": "+15005550009", "channel": "PHONE"},
                        {"address": "+15558675450", "channel": "WHATSAPP"},
                    ]
                }
            ],
            "content": {"text": "landline?"},
            "from": {"senderPoolId": pool_id},
        },
    )
    await settle(sandbox, settings, rounds=3)
    [message] = await message_details(client, sent.json()["operationId"])
    assert [a["channel"] for a in message["attempts"]] == ["SMS", "WHATSAPP"]
    assert message["attempts"][0]["error"]["code"] == 21614
    assert message["status"] == "DELIVERED"


async def test_unaddressable_recipients_are_counted(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    sent = await client.post(
        "/v1/Messages",
        json={
            "to": [
                {"address": "+15558675410", "channel": "WHATSAPP"},
                {"address": "+15558675411", "channel": "PHONE"},
            ],
            "content": {"text": "sms only"},
            "from": {"address": SMS_SENDER, "channel": "SMS"},
        },
    )
    assert sent.status_code == 202
    await settle(sandbox, settings)
    stats = (await client.get(sent.headers["location"])).json()["stats"]
    assert (stats["unaddressable"], stats["failed"], stats["delivered"]) == (1, 1, 1)
    details = await message_details(client, sent.json()["operationId"])
    failed = [m for m in details if m["status"] == "FAILED"]
    assert failed[0]["attempts"] == []


async def test_the_default_pool_is_used_without_from(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    await make_pool(client, ("+15017122673", "SMS"), default=True)
    sent = await client.post(
        "/v1/Messages",
        json={"to": [{"address": "+15558675420", "channel": "PHONE"}], "content": {"text": "hi"}},
    )
    assert sent.status_code == 202, sent.text
    await settle(sandbox, settings)
    [message] = await message_details(client, sent.json()["operationId"])
    assert message["from"]["address"] == "+15017122673"
    assert message["status"] == "DELIVERED"


async def test_a_second_operation_reuses_the_conversation(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    body = {
        "to": [{"address": "+15558675430", "channel": "CONVERSATIONS"}],
        "content": {"text": "hello again"},
        "from": {"address": "+15017122674", "channel": "CONVERSATIONS"},
    }
    for _ in range(2):
        sent = await client.post("/v1/Messages", json=body)
        assert sent.status_code == 202, sent.text
        await settle(sandbox, settings)
        [message] = await message_details(client, sent.json()["operationId"])
        assert message["status"] == "DELIVERED"
    rows = await pool.fetch(
        "SELECT conversation_sid FROM conversations WHERE recipient_address = '+15558675430'"
    )
    assert len(rows) == 1
    auth = (settings.provider_account_sid, settings.provider_auth_token)
    listed = await sandbox.get(
        f"/v1/Conversations/{rows[0]['conversation_sid']}/Messages", auth=auth
    )
    assert len(listed.json()["messages"]) == 2


async def test_an_existing_binding_is_adopted_after_50416(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    auth = (settings.provider_account_sid, settings.provider_auth_token)
    made_elsewhere = await sandbox.post("/v1/Conversations", data={"FriendlyName": "x"}, auth=auth)
    conversation = made_elsewhere.json()["sid"]
    bound = await sandbox.post(
        f"/v1/Conversations/{conversation}/Participants",
        data={
            "MessagingBinding.Address": "+15558675440",
            "MessagingBinding.ProxyAddress": "+15017122675",
        },
        auth=auth,
    )
    assert bound.status_code == 201, bound.text
    sent = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675440", "channel": "CONVERSATIONS"}],
            "content": {"text": "found you"},
            "from": {"address": "+15017122675", "channel": "CONVERSATIONS"},
        },
    )
    await settle(sandbox, settings)
    [message] = await message_details(client, sent.json()["operationId"])
    assert message["status"] == "DELIVERED"
    stored = await pool.fetchval(
        "SELECT conversation_sid FROM conversations WHERE recipient_address = '+15558675440'"
    )
    assert stored == conversation
    listed = await sandbox.get(f"/v1/Conversations/{conversation}/Messages", auth=auth)
    assert [m["body"] for m in listed.json()["messages"]] == ["found you"]


async def test_whatsapp_text_outside_a_session_fails_63016_but_a_template_goes(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    base = {
        "to": [{"address": "+15558675460", "channel": "WHATSAPP"}],
        "from": {"address": WHATSAPP_SENDER, "channel": "WHATSAPP"},
    }
    text = await client.post("/v1/Messages", json={**base, "content": {"text": "hi there"}})
    template = await client.post(
        "/v1/Messages", json={**base, "content": {"contentId": "HX" + "b" * 32}}
    )
    assert text.status_code == template.status_code == 202
    await settle(sandbox, settings)
    [refused] = await message_details(client, text.json()["operationId"])
    assert refused["status"] == "FAILED"
    assert refused["attempts"][0]["error"]["code"] == 63016
    [delivered] = await message_details(client, template.json()["operationId"])
    assert delivered["status"] == "DELIVERED"
