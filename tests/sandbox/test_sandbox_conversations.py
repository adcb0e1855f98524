"""Conversations v1: resources validated against Twilio's OpenAPI document, bindings and 50416,
message delivery to SMS / WhatsApp participants with signed webhooks, and the twilio SDK."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException

CONVERSATIONS = "/v1/Conversations"
PROXY = "+14155550001"
CUSTOMER = "+14155550100"


async def create(sandbox: Any, path: str, /, **fields: str) -> dict[str, Any]:
    return await post_form(sandbox, path, fields)


async def post_form(
    sandbox: Any, path: str, fields: dict[str, str], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await sandbox.http.post(path, data=fields, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def keys_of(schema: Any, component: str) -> set[str]:
    return set(schema.component(component)["properties"])


async def test_conversation_resource(sandbox: Any, conversations_schema: Any) -> None:
    body = await create(
        sandbox,
        CONVERSATIONS,
        FriendlyName="Order 42",
        UniqueName="order-42",
        Attributes='{"order": 42}',
        **{"Timers.Inactive": "PT5M", "Timers.Closed": "P1D"},
    )

    conversations_schema.validate("/v1/Conversations", "post", 201, body)
    assert set(body) == keys_of(conversations_schema, "conversations.v1.conversation")
    assert body["sid"].startswith("CH")
    assert body["state"] == "active"
    assert body["unique_name"] == "order-42"
    assert set(body["timers"]) == {"date_inactive", "date_closed"}
    assert body["url"] == f"{sandbox.base_url}/v1/Conversations/{body['sid']}"
    assert body["links"]["participants"] == f"{body['url']}/Participants"

    for key in (body["sid"], "order-42"):
        fetched = await sandbox.http.get(f"{CONVERSATIONS}/{key}")
        assert fetched.status_code == 200
        conversations_schema.validate("/v1/Conversations/{Sid}", "get", 200, fetched.json())
        assert fetched.json()["sid"] == body["sid"]

    duplicate = await sandbox.http.post(CONVERSATIONS, data={"UniqueName": "order-42"})
    assert duplicate.status_code == 409
    conversations_schema.validate_error(duplicate.json())


async def test_list_update_delete(sandbox: Any, conversations_schema: Any) -> None:
    sids = [(await create(sandbox, CONVERSATIONS, FriendlyName=f"c{i}"))["sid"] for i in range(3)]

    page = (await sandbox.http.get(CONVERSATIONS, params={"PageSize": 2})).json()
    conversations_schema.validate("/v1/Conversations", "get", 200, page)
    assert [c["sid"] for c in page["conversations"]] == [sids[2], sids[1]]
    assert page["meta"]["key"] == "conversations"
    rest = (await sandbox.http.get(page["meta"]["next_page_url"])).json()
    assert [c["sid"] for c in rest["conversations"]] == [sids[0]]
    assert rest["meta"]["next_page_url"] is None

    updated = await sandbox.http.post(f"{CONVERSATIONS}/{sids[0]}", data={"State": "closed"})
    assert updated.status_code == 200
    conversations_schema.validate("/v1/Conversations/{Sid}", "post", 200, updated.json())
    assert updated.json()["state"] == "closed"
    closed = (await sandbox.http.get(CONVERSATIONS, params={"State": "closed"})).json()
    assert [c["sid"] for c in closed["conversations"]] == [sids[0]]

    assert (await sandbox.http.delete(f"{CONVERSATIONS}/{sids[0]}")).status_code == 204
    missing = await sandbox.http.get(f"{CONVERSATIONS}/{sids[0]}")
    assert missing.status_code == 404
    conversations_schema.validate_error(missing.json())
    assert missing.json()["code"] == 20404


async def test_participants_and_binding_conflicts(sandbox: Any, conversations_schema: Any) -> None:
    first = (await create(sandbox, CONVERSATIONS))["sid"]
    second = (await create(sandbox, CONVERSATIONS))["sid"]
    binding = {"MessagingBinding.Address": CUSTOMER, "MessagingBinding.ProxyAddress": PROXY}

    sms = await create(sandbox, f"{CONVERSATIONS}/{first}/Participants", **binding)
    chat = await create(sandbox, f"{CONVERSATIONS}/{first}/Participants", Identity="agent-7")

    for participant in (sms, chat):
        conversations_schema.validate(
            "/v1/Conversations/{ConversationSid}/Participants", "post", 201, participant
        )
        assert set(participant) == keys_of(
            conversations_schema, "conversations.v1.conversation.conversation_participant"
        )
        assert participant["sid"].startswith("MB")
    assert sms["messaging_binding"] == {"type": "sms", "address": CUSTOMER, "proxy_address": PROXY}
    assert sms["identity"] is None
    assert chat["messaging_binding"] is None

    conflict = await sandbox.http.post(f"{CONVERSATIONS}/{second}/Participants", data=binding)
    assert conflict.status_code == 409
    conversations_schema.validate_error(conflict.json())
    assert conflict.json()["code"] == 50416
    assert first in conflict.json()["message"]
    again = await sandbox.http.post(f"{CONVERSATIONS}/{first}/Participants", data=binding)
    assert again.json()["code"] == 50416
    same_identity = await sandbox.http.post(
        f"{CONVERSATIONS}/{first}/Participants", data={"Identity": "agent-7"}
    )
    assert same_identity.status_code == 409
    assert same_identity.json()["code"] == 50433
    other_proxy = {**binding, "MessagingBinding.ProxyAddress": "+14155550002"}
    await create(sandbox, f"{CONVERSATIONS}/{second}/Participants", **other_proxy)

    listed = (await sandbox.http.get(f"{CONVERSATIONS}/{first}/Participants")).json()
    conversations_schema.validate(
        "/v1/Conversations/{ConversationSid}/Participants", "get", 200, listed
    )
    assert {p["sid"] for p in listed["participants"]} == {sms["sid"], chat["sid"]}
    fetched = await sandbox.http.get(f"{CONVERSATIONS}/{first}/Participants/{sms['sid']}")
    conversations_schema.validate(
        "/v1/Conversations/{ConversationSid}/Participants/{Sid}", "get", 200, fetched.json()
    )

    # closing (or removing the participant) frees the binding
    await sandbox.http.post(f"{CONVERSATIONS}/{first}", data={"State": "closed"})
    await create(sandbox, f"{CONVERSATIONS}/{second}/Participants", **binding)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"MessagingBinding.Address": CUSTOMER},
        {"MessagingBinding.Address": "0800 NOPE", "MessagingBinding.ProxyAddress": PROXY},
        {
            "MessagingBinding.Address": f"whatsapp:{CUSTOMER}",
            "MessagingBinding.ProxyAddress": PROXY,
        },
    ],
)
async def test_bad_participants(
    sandbox: Any, conversations_schema: Any, fields: dict[str, str]
) -> None:
    sid = (await create(sandbox, CONVERSATIONS))["sid"]
    response = await sandbox.http.post(f"{CONVERSATIONS}/{sid}/Participants", data=fields)
    assert response.status_code == 400
    conversations_schema.validate_error(response.json())


async def conversation_with_customers(sandbox: Any, *customers: str) -> str:
    sid: str = (await create(sandbox, CONVERSATIONS))["sid"]
    await create(sandbox, f"{CONVERSATIONS}/{sid}/Participants", Identity="agent")
    for customer in customers:
        await create(
            sandbox,
            f"{CONVERSATIONS}/{sid}/Participants",
            **{"MessagingBinding.Address": customer, "MessagingBinding.ProxyAddress": PROXY},
        )
    return sid


async def test_messages_are_delivered_with_signed_webhooks(
    sandbox: Any, receiver: Any, conversations_schema: Any, check_signature: Any
) -> None:
    await sandbox.configure(conversations_webhook_url=receiver.url("/conversations"))
    sid = await conversation_with_customers(sandbox, CUSTOMER, "+15005550010")

    message = await post_form(
        sandbox,
        f"{CONVERSATIONS}/{sid}/Messages",
        {"Author": "agent", "Body": "Your order shipped"},
        headers={"X-Twilio-Webhook-Enabled": "true"},
    )
    conversations_schema.validate(
        "/v1/Conversations/{ConversationSid}/Messages", "post", 201, message
    )
    assert set(message) == keys_of(
        conversations_schema, "conversations.v1.conversation.conversation_message"
    )
    assert message["sid"].startswith("IM")
    assert message["index"] == 0
    assert message["participant_sid"] is not None  # "agent" is a participant's identity
    await sandbox.drain()

    events = [w.form for w in receiver.received]
    for webhook in receiver.received:
        check_signature(webhook)
    assert events[0]["EventType"] == "onMessageAdded"
    assert events[0]["MessageSid"] == message["sid"]
    assert events[0]["Body"] == "Your order shipped"
    assert events[0]["Source"] == "API"
    updates = [e for e in events if e["EventType"] == "onDeliveryUpdated"]
    by_status = sorted((e["Status"], e["ErrorCode"]) for e in updates)
    assert by_status == [("delivered", "0"), ("sent", "0"), ("sent", "0"), ("undelivered", "30003")]
    assert all(e["DeliveryReceiptSid"].startswith("DY") for e in updates)
    assert all(e["ChannelMessageSid"].startswith("SM") for e in updates)

    fetched = (await sandbox.http.get(f"{CONVERSATIONS}/{sid}/Messages/{message['sid']}")).json()
    conversations_schema.validate(
        "/v1/Conversations/{ConversationSid}/Messages/{Sid}", "get", 200, fetched
    )
    assert fetched["delivery"] == {
        "total": 2,
        "sent": "all",
        "delivered": "some",
        "read": "none",
        "failed": "none",
        "undelivered": "some",
    }
    receipts = (await sandbox.http.get(fetched["links"]["delivery_receipts"])).json()
    conversations_schema.validate(
        "/v1/Conversations/{ConversationSid}/Messages/{MessageSid}/Receipts", "get", 200, receipts
    )
    assert {r["status"] for r in receipts["delivery_receipts"]} == {"delivered", "undelivered"}

    sends = await sandbox.sent()
    assert sorted(s["to"] for s in sends) == sorted([CUSTOMER, "+15005550010"])
    assert all(s["conversation_sid"] == sid and s["from"] == PROXY for s in sends)


async def test_a_closed_conversation_takes_nothing_more(
    sandbox: Any, conversations_schema: Any
) -> None:
    sid = await conversation_with_customers(sandbox, CUSTOMER)
    await create(sandbox, f"{CONVERSATIONS}/{sid}/Messages", Body="before")
    closed = await sandbox.http.post(f"{CONVERSATIONS}/{sid}", data={"State": "closed"})
    assert closed.status_code == 200, closed.text

    refusals = [
        await sandbox.http.post(f"{CONVERSATIONS}/{sid}/Messages", data={"Body": "after"}),
        await sandbox.http.post(f"{CONVERSATIONS}/{sid}/Participants", data={"Identity": "late"}),
        await sandbox.http.post(f"{CONVERSATIONS}/{sid}", data={"State": "active"}),
    ]

    for refused in refusals:
        assert refused.status_code == 400, refused.text
        conversations_schema.validate_error(refused.json())
        assert refused.json()["code"] == 50377
    listed = (await sandbox.http.get(f"{CONVERSATIONS}/{sid}/Messages")).json()
    assert [m["body"] for m in listed["messages"]] == ["before"]
    await sandbox.drain()
    assert [s["body"] for s in await sandbox.sent()] == ["before"]
    assert (await sandbox.http.get(f"{CONVERSATIONS}/{sid}")).json()["state"] == "closed"
    # ...and none starts closed.
    born_closed = await sandbox.http.post(CONVERSATIONS, data={"State": "closed"})
    assert born_closed.status_code == 400
    conversations_schema.validate_error(born_closed.json())
    assert born_closed.json()["code"] == 50384


@pytest.mark.parametrize("forget", ["delete", "reset"])
async def test_a_deleted_or_forgotten_conversation_answers_20404(
    sandbox: Any, conversations_schema: Any, forget: str
) -> None:
    """As on Twilio after a DELETE; a reset (what a restarted sandbox is) forgets them all."""
    sid = await conversation_with_customers(sandbox, CUSTOMER)
    if forget == "delete":
        assert (await sandbox.http.delete(f"{CONVERSATIONS}/{sid}")).status_code == 204
    else:
        assert (await sandbox.http.post("/sandbox/reset")).status_code == 200

    for response in (
        await sandbox.http.post(f"{CONVERSATIONS}/{sid}/Messages", data={"Body": "anyone?"}),
        await sandbox.http.get(f"{CONVERSATIONS}/{sid}/Messages"),
        await sandbox.http.get(f"{CONVERSATIONS}/{sid}"),
        await sandbox.http.delete(f"{CONVERSATIONS}/{sid}"),
    ):
        assert response.status_code == 404, response.text
        conversations_schema.validate_error(response.json())
        assert response.json()["code"] == 20404
        assert f"/v1/Conversations/{sid}" in response.json()["message"]
    # The customer's binding went with it: a new conversation can take them.
    await conversation_with_customers(sandbox, CUSTOMER)
    await sandbox.drain()
    assert await sandbox.sent() == []


async def test_message_added_needs_the_webhook_header_for_rest_actions(
    sandbox: Any, receiver: Any
) -> None:
    await sandbox.configure(conversations_webhook_url=receiver.url("/conversations"))
    sid = await conversation_with_customers(sandbox, CUSTOMER)
    await create(sandbox, f"{CONVERSATIONS}/{sid}/Messages", Body="quiet")
    await sandbox.drain()
    assert [w.form["EventType"] for w in receiver.received] == ["onDeliveryUpdated"] * 2


async def test_handset_reply_lands_in_its_conversation(
    sandbox: Any, receiver: Any, conversations_schema: Any
) -> None:
    await sandbox.configure(
        conversations_webhook_url=receiver.url("/conversations"),
        inbound_webhook_url=receiver.url("/inbound"),
    )
    other = "+14155550177"
    sid = await conversation_with_customers(sandbox, CUSTOMER, other)
    await create(sandbox, f"{CONVERSATIONS}/{sid}/Messages", Author="agent", Body="hello")

    reply = await sandbox.http.post(
        "/sandbox/inbound", json={"from": CUSTOMER, "to": PROXY, "body": "Thanks!"}
    )
    await sandbox.drain()

    assert reply.json()["conversation_sid"] == sid
    assert reply.json()["webhook"] is None  # routed to the conversation, not the inbound URL
    added = [w.form for w in receiver.received if w.form["EventType"] == "onMessageAdded"]
    assert len(added) == 1
    assert added[0]["Author"] == CUSTOMER
    assert added[0]["Source"] == "SMS"
    assert added[0]["Body"] == "Thanks!"
    listed = (
        await sandbox.http.get(f"{CONVERSATIONS}/{sid}/Messages", params={"Order": "desc"})
    ).json()
    conversations_schema.validate(
        "/v1/Conversations/{ConversationSid}/Messages", "get", 200, listed
    )
    latest = listed["messages"][0]
    assert latest["body"] == "Thanks!"
    assert latest["index"] == 1
    assert latest["participant_sid"] is not None
    # the reply goes to the other customer, not back to its author
    reply_sends = [s for s in await sandbox.sent() if s["body"] == "Thanks!"]
    assert [s["to"] for s in reply_sends] == [other]


async def test_whatsapp_participant_outside_session(sandbox: Any, receiver: Any) -> None:
    await sandbox.configure(conversations_webhook_url=receiver.url("/c"))
    sid = (await create(sandbox, CONVERSATIONS))["sid"]
    await create(
        sandbox,
        f"{CONVERSATIONS}/{sid}/Participants",
        **{
            "MessagingBinding.Address": "whatsapp:+14155550100",
            "MessagingBinding.ProxyAddress": "whatsapp:+14155550001",
        },
    )
    await create(sandbox, f"{CONVERSATIONS}/{sid}/Messages", Body="free-form")
    await create(sandbox, f"{CONVERSATIONS}/{sid}/Messages", ContentSid="HX" + "d" * 32)
    await sandbox.drain()
    updates = {(w.form["Status"], w.form["ErrorCode"]) for w in receiver.received}
    assert ("failed", "63016") in updates
    assert ("delivered", "0") in updates


async def test_bad_messages(sandbox: Any, conversations_schema: Any) -> None:
    sid = (await create(sandbox, CONVERSATIONS))["sid"]
    for fields in ({}, {"Body": "x" * 1601}, {"Body": "x", "Attributes": "{nope"}):
        response = await sandbox.http.post(f"{CONVERSATIONS}/{sid}/Messages", data=fields)
        assert response.status_code == 400
        conversations_schema.validate_error(response.json())


async def test_conversations_need_auth(sandbox: Any) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=sandbox.base_url) as anonymous:
        response = await anonymous.post(CONVERSATIONS, data={"FriendlyName": "x"})
    assert response.status_code == 401
    assert response.json()["code"] == 20003


# --- the official SDK -----------------------------------------------------------------------


async def test_sdk_conversations_participants_messages(
    sandbox: Any, twilio_client: Any, receiver: Any
) -> None:
    v1 = twilio_client.conversations.v1

    def scenario() -> dict[str, Any]:
        conversation = v1.conversations.create(friendly_name="SDK", unique_name="sdk-1")
        fetched = v1.conversations(conversation.sid).fetch()
        participant = conversation.participants.create(
            messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=PROXY
        )
        agent = v1.conversations(conversation.sid).participants.create(identity="agent")
        message = v1.conversations(conversation.sid).messages.create(
            author="agent", body="Hi from the SDK"
        )
        fetched_message = v1.conversations(conversation.sid).messages(message.sid).fetch()
        fetched_participant = (
            v1.conversations(conversation.sid).participants(participant.sid).fetch()
        )
        listed = v1.conversations.list(limit=10)
        return {
            "conversation": conversation,
            "fetched": fetched,
            "participant": participant,
            "agent": agent,
            "message": message,
            "fetched_message": fetched_message,
            "fetched_participant": fetched_participant,
            "listed": listed,
        }

    result = await asyncio.to_thread(scenario)

    assert result["conversation"].sid.startswith("CH")
    assert result["fetched"].unique_name == "sdk-1"
    assert result["fetched"].date_created is not None  # ISO 8601 parsed by the SDK
    assert result["participant"].messaging_binding["address"] == CUSTOMER
    assert result["fetched_participant"].sid == result["participant"].sid
    assert result["agent"].identity == "agent"
    assert result["message"].sid.startswith("IM")
    assert result["message"].participant_sid == result["agent"].sid
    assert result["fetched_message"].body == "Hi from the SDK"
    assert [c.sid for c in result["listed"]] == [result["conversation"].sid]

    def conflict() -> None:
        second = v1.conversations.create()
        second.participants.create(
            messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=PROXY
        )

    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(conflict)
    assert caught.value.status == 409
    assert caught.value.code == 50416
    assert result["conversation"].sid in caught.value.msg
