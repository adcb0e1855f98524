"""WhatsApp's 24-hour session (63016), not-a-WhatsApp-user (63003), and simulated handset
replies: the signed inbound webhook, STOP / START, and sessions opened by inbound messages."""

from __future__ import annotations

from typing import Any

import pytest

BUSINESS = "whatsapp:+14155550001"
OTHER_BUSINESS = "whatsapp:+14155550002"
USER = "whatsapp:+14155550100"
TEMPLATE = "HX" + "c" * 32


async def inbound(sandbox: Any, **fields: Any) -> dict[str, Any]:
    response = await sandbox.http.post("/sandbox/inbound", json=fields)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def final_status(sandbox: Any, sid: str) -> dict[str, Any]:
    await sandbox.drain()
    message: dict[str, Any] = (await sandbox.fetch(sid)).json()
    return message


async def test_free_form_outside_a_session_fails_63016(
    sandbox: Any, receiver: Any, messages_schema: Any, check_signature: Any
) -> None:
    response = await sandbox.send(
        To=USER, From=BUSINESS, Body="Hi there", StatusCallback=receiver.url("/wa")
    )
    assert response.status_code == 201  # accepted, like Twilio: the failure comes later
    messages_schema.validate(
        "/2010-04-01/Accounts/{AccountSid}/Messages.json", "post", 201, response.json()
    )

    message = await final_status(sandbox, response.json()["sid"])

    assert message["status"] == "failed"
    assert message["error_code"] == 63016
    forms = [w.form for w in receiver.received]
    assert [f["MessageStatus"] for f in forms] == ["failed"]
    assert forms[-1]["ErrorCode"] == "63016"
    assert forms[-1]["ChannelPrefix"] == "whatsapp"
    assert forms[-1]["ChannelToAddress"] == "+14155550100"
    assert forms[-1]["ChannelInstallSid"].startswith("XE")
    for webhook in receiver.received:
        check_signature(webhook)


async def test_templates_are_allowed_outside_a_session(sandbox: Any) -> None:
    response = await sandbox.send(
        To=USER, From=BUSINESS, ContentSid=TEMPLATE, ContentVariables='{"1": "Ana"}'
    )
    assert (await final_status(sandbox, response.json()["sid"]))["status"] == "delivered"


async def test_inbound_opens_a_24_hour_session_per_sender(
    sandbox: Any, receiver: Any, check_signature: Any
) -> None:
    result = await inbound(
        sandbox, **{"from": USER, "to": BUSINESS, "body": "hello", "url": receiver.url("/in")}
    )
    [webhook] = receiver.received
    check_signature(webhook)
    assert webhook.form["WaId"] == "14155550100"
    assert webhook.form["From"] == USER
    assert webhook.form["MessageSid"] == result["sid"]

    inside = await sandbox.send(To=USER, From=BUSINESS, Body="free-form reply")
    elsewhere = await sandbox.send(To=USER, From=OTHER_BUSINESS, Body="not my session")
    assert (await final_status(sandbox, inside.json()["sid"]))["status"] == "delivered"
    assert (await final_status(sandbox, elsewhere.json()["sid"]))["error_code"] == 63016

    clock = await sandbox.http.post("/sandbox/clock", json={"advance_s": 24 * 3600 + 1})
    assert clock.json()["offset_s"] == 24 * 3600 + 1
    expired = await sandbox.send(To=USER, From=BUSINESS, Body="a day later")
    assert (await final_status(sandbox, expired.json()["sid"]))["error_code"] == 63016


async def test_messaging_service_uses_any_open_session(sandbox: Any) -> None:
    await inbound(sandbox, **{"from": USER, "to": BUSINESS, "body": "hi"})
    response = await sandbox.send(To=USER, MessagingServiceSid="MG" + "5" * 32, Body="reply")
    message = await final_status(sandbox, response.json()["sid"])
    assert message["status"] == "delivered"
    assert message["from"].startswith("whatsapp:+1201555")


@pytest.mark.parametrize("content", [{"Body": "hi"}, {"ContentSid": TEMPLATE}])
async def test_not_a_whatsapp_user_fails_63003(sandbox: Any, content: dict[str, str]) -> None:
    response = await sandbox.send(data={"To": "whatsapp:+15005550020", "From": BUSINESS, **content})
    message = await final_status(sandbox, response.json()["sid"])
    assert message["status"] == "failed"
    assert message["error_code"] == 63003


async def test_whatsapp_messages_are_one_segment_and_can_be_read(
    sandbox: Any, receiver: Any
) -> None:
    response = await sandbox.send(
        To="whatsapp:+15005550015",
        From=BUSINESS,
        ContentSid=TEMPLATE,
        StatusCallback=receiver.url("/read"),
    )
    assert response.json()["num_segments"] == "1"
    await sandbox.drain()
    forms = [w.form for w in receiver.received]
    assert [f["MessageStatus"] for f in forms] == ["sent", "delivered", "read"]
    assert forms[-1]["EventType"] == "READ"
    long_body = await sandbox.send(To=USER, From=BUSINESS, ContentSid=TEMPLATE, Body="x" * 500)
    assert long_body.json()["num_segments"] == "1"


# --- inbound SMS ----------------------------------------------------------------------------


async def test_inbound_sms_webhook_is_signed_with_twilio_params(
    sandbox: Any, receiver: Any, messages_schema: Any, check_signature: Any
) -> None:
    await sandbox.configure(inbound_webhook_url=receiver.url("/sms/inbound?tenant=1"))
    receiver.reply_body = b"<Response><Message>thanks</Message></Response>"

    result = await inbound(sandbox, **{"from": "+14155550100", "to": "+14155550001", "body": "Hi!"})

    assert result["webhook"]["delivered"] is True
    assert result["webhook"]["status_code"] == 200
    assert "thanks" in result["webhook"]["body"]
    [webhook] = receiver.received
    check_signature(webhook)
    form = webhook.form
    assert form["Body"] == "Hi!"
    assert form["From"] == "+14155550100"
    assert form["To"] == "+14155550001"
    assert form["MessageSid"] == form["SmsSid"] == form["SmsMessageSid"] == result["sid"]
    assert form["SmsStatus"] == "received"
    assert form["NumMedia"] == "0"
    assert form["NumSegments"] == "1"
    assert form["ApiVersion"] == "2010-04-01"
    assert form["FromCountry"] == "US"

    fetched = (await sandbox.fetch(result["sid"])).json()
    messages_schema.validate(
        "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json", "get", 200, fetched
    )
    assert fetched["direction"] == "inbound"
    assert fetched["status"] == "received"
    assert await sandbox.sent() == []  # inbound messages are not sends


async def test_inbound_media(sandbox: Any, receiver: Any) -> None:
    await inbound(
        sandbox,
        **{
            "from": "+14155550100",
            "to": "+14155550001",
            "media_urls": ["https://example.com/cat.jpg"],
            "url": receiver.url("/mms"),
        },
    )
    form = receiver.received[0].form
    assert form["NumMedia"] == "1"
    assert form["MediaUrl0"] == "https://example.com/cat.jpg"
    assert form["MessageSid"].startswith("MM")


async def test_stop_and_start(sandbox: Any) -> None:
    handset, ours, other = "+14155550100", "+14155550001", "+14155550002"
    result = await inbound(sandbox, **{"from": handset, "to": ours, "body": " stop "})
    assert result["opted_out"] is True
    assert result["webhook"] is None  # no inbound URL configured

    blocked = await sandbox.send(To=handset, From=ours, Body="promo")
    assert blocked.status_code == 400
    assert blocked.json()["code"] == 21610
    assert (await sandbox.send(To=handset, From=other, Body="other number")).status_code == 201

    result = await inbound(sandbox, **{"from": handset, "to": ours, "body": "START"})
    assert result["opted_out"] is False
    assert (await sandbox.send(To=handset, From=ours, Body="welcome back")).status_code == 201


async def test_inbound_webhook_retries_5xx(sandbox: Any, receiver: Any) -> None:
    receiver.failures = 1
    result = await inbound(
        sandbox,
        **{"from": "+14155550100", "to": "+14155550001", "body": "x", "url": receiver.url("/r")},
    )
    assert result["webhook"]["delivered"] is True
    assert len(receiver.failed) == 1
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"from": "not a number", "to": "+14155550001"},
        {"from": "+14155550100", "to": "+0"},
        {"from": "whatsapp:+14155550100", "to": "+14155550001"},
        {"from": "+14155550100", "to": "+14155550001", "account_sid": "AC" + "9" * 32},
        {"from": "+14155550100", "to": "+14155550001", "surprise": True},
    ],
)
async def test_inbound_rejects_bad_input(sandbox: Any, fields: dict[str, Any]) -> None:
    response = await sandbox.http.post("/sandbox/inbound", json=fields)
    assert response.status_code == 400
