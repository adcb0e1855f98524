"""Messaging Services: `MessagingServiceSid` (or an `MG…` From) picks a number from the
service's pool, created through the control API or the default pool of an unknown SID; the
queue of a sender holds 4 hours of its traffic; long codes outside +1 send 10 a second."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from sandbox.app import create_app
from sandbox.rates import MAX_QUEUE_S, SenderQueues
from sandbox.services import UNKNOWN_SERVICE_SID, default_numbers
from sandbox.serving import serve_asgi
from sandbox.settings import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, SandboxSettings
from tests.support.sandbox_api import SECOND_ACCOUNT_SID, SECOND_AUTH_TOKEN

TO = "+14155550100"
SERVICE = "MG" + "3c" * 16
MESSAGES = f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"


async def test_an_mg_from_is_a_messaging_service_with_a_default_pool(
    sandbox: Any, receiver: Any, messages_schema: Any
) -> None:
    created = await sandbox.send(
        To=TO, From=SERVICE, Body="hi", StatusCallback=receiver.url("/status")
    )

    assert created.status_code == 201, created.text
    body = created.json()
    messages_schema.validate("/2010-04-01/Accounts/{AccountSid}/Messages.json", "post", 201, body)
    assert (body["messaging_service_sid"], body["from"], body["status"]) == (
        SERVICE,
        None,
        "accepted",
    )
    await sandbox.drain()
    fetched = (await sandbox.fetch(body["sid"])).json()
    assert fetched["status"] == "delivered"
    assert fetched["messaging_service_sid"] == SERVICE
    assert fetched["from"] in default_numbers(SERVICE)
    forms = [w.form for w in receiver.received]
    assert [f["MessageStatus"] for f in forms] == ["queued", "sent", "delivered"]
    assert {f["MessagingServiceSid"] for f in forms} == {SERVICE}
    assert {f["From"] for f in forms} == {fetched["from"]}
    # The same SID always stands for the same pool, and the pool for the same pick.
    again = await sandbox.send(To=TO, MessagingServiceSid=SERVICE, Body="again")
    await sandbox.drain()
    assert (await sandbox.fetch(again.json()["sid"])).json()["from"] == fetched["from"]
    assert default_numbers(SERVICE) == default_numbers(SERVICE)
    assert len(set(default_numbers(SERVICE))) == 10


async def test_a_created_service_picks_from_its_pool(sandbox: Any) -> None:
    pool = ["+14155550201", "+14155550202", "+447700900123", "whatsapp:+14155550299"]
    made = await sandbox.http.post(
        "/sandbox/messaging-services", json={"sid": SERVICE, "numbers": pool, "mps": 0}
    )
    assert made.status_code == 201, made.text
    assert made.json() == {
        "sid": SERVICE,
        "account_sid": DEFAULT_ACCOUNT_SID,
        "numbers": pool,
        "mps": 0,
    }
    listed = (await sandbox.http.get("/sandbox/messaging-services")).json()["services"]
    assert [s["sid"] for s in listed] == [SERVICE]

    sids = {}
    for to in ("+447700900999", "+14155550300", "+14155550301", "+14155550302"):
        answer = await sandbox.send(To=to, MessagingServiceSid=SERVICE, Body="hi")
        assert answer.status_code == 201, answer.text
        sids[to] = answer.json()["sid"]
    template = await sandbox.send(
        To="whatsapp:+14155550303", MessagingServiceSid=SERVICE, ContentSid="HX" + "a" * 32
    )
    await sandbox.drain()
    picked = {to: (await sandbox.fetch(sid)).json()["from"] for to, sid in sids.items()}
    # Country Code Geomatch: the UK number for the UK recipient, US numbers for the others.
    assert picked["+447700900999"] == "+447700900123"
    assert {picked[to] for to in sids if to.startswith("+1")} <= {"+14155550201", "+14155550202"}
    # WhatsApp recipients get the pool's WhatsApp sender.
    whatsapp = (await sandbox.fetch(template.json()["sid"])).json()
    assert (whatsapp["from"], whatsapp["status"]) == ("whatsapp:+14155550299", "delivered")
    # Sticky Sender: a recipient keeps its number.
    repeat = await sandbox.send(To="+14155550301", MessagingServiceSid=SERVICE, Body="again")
    await sandbox.drain()
    assert (await sandbox.fetch(repeat.json()["sid"])).json()["from"] == picked["+14155550301"]


async def test_an_unknown_or_another_accounts_service_answers_21701(
    sandbox: Any, messages_schema: Any
) -> None:
    unknown = await sandbox.send(To=TO, MessagingServiceSid=UNKNOWN_SERVICE_SID, Body="x")
    assert unknown.status_code == 400
    messages_schema.validate_error(unknown.json())
    assert unknown.json()["code"] == 21701
    theirs = "MG" + "5e" * 16
    made = await sandbox.http.post(
        "/sandbox/messaging-services",
        json={"sid": theirs, "account_sid": SECOND_ACCOUNT_SID, "numbers": ["+14155550400"]},
    )
    assert made.status_code == 201
    refused = await sandbox.send(To=TO, From=theirs, Body="x")
    assert (refused.status_code, refused.json()["code"]) == (400, 21701)
    async with httpx.AsyncClient(
        base_url=sandbox.base_url, auth=(SECOND_ACCOUNT_SID, SECOND_AUTH_TOKEN)
    ) as second:
        accepted = await second.post(
            f"/2010-04-01/Accounts/{SECOND_ACCOUNT_SID}/Messages.json",
            data={"To": TO, "MessagingServiceSid": theirs, "Body": "x"},
        )
    assert accepted.status_code == 201, accepted.text
    malformed = await sandbox.send(To=TO, MessagingServiceSid="MG12", Body="x")
    assert (malformed.status_code, malformed.json()["code"]) == (400, 21705)
    assert len(await sandbox.sent()) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"numbers": []},
        {"numbers": ["+0-nope"]},
        {"numbers": ["+14155550100"], "sid": "MG1"},
        {"numbers": ["+14155550100"], "account_sid": "AC" + "9" * 32},
        {"numbers": ["+14155550100"], "mps": -1},
    ],
)
async def test_malformed_services_are_refused(sandbox: Any, body: dict[str, Any]) -> None:
    response = await sandbox.http.post("/sandbox/messaging-services", json=body)
    assert response.status_code == 400, response.text
    assert (await sandbox.http.get("/sandbox/messaging-services")).json()["services"] == []


async def test_a_service_is_paced_at_its_own_rate(sandbox: Any) -> None:
    made = await sandbox.http.post(
        "/sandbox/messaging-services",
        json={"sid": SERVICE, "numbers": ["+14155550201"], "mps": 2},
    )
    assert made.json()["mps"] == 2
    for i in range(3):
        await sandbox.send(To=TO, MessagingServiceSid=SERVICE, Body=str(i))
    senders = {
        s["address"]: s for s in (await sandbox.http.get("/sandbox/senders")).json()["senders"]
    }
    assert senders[SERVICE]["kind"] == "messaging_service"
    assert senders[SERVICE]["mps"] == 2
    # Three one-segment messages at 2 a second: the next one would wait 1.5 s.
    assert 1.0 <= senders[SERVICE]["backlog_s"] <= 1.5


async def wait_for_status(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    """The message once it has left `accepted`/`queued` (the sandbox has no delays here)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        body: dict[str, Any] = (await client.get(path)).json()
        if (
            body["status"] not in ("accepted", "queued")
            or asyncio.get_running_loop().time() > deadline
        ):
            return body
        await asyncio.sleep(0.02)


def test_a_queue_holds_four_hours() -> None:
    assert MAX_QUEUE_S == 4 * 60 * 60


async def test_four_hours_of_backlog_fail_a_service_with_30001_and_refuse_a_from_with_21611() -> (
    None
):
    # 0.001 a second: each message holds the queue for 1,000 s, so 15 fit in 4 hours (the
    # 15th waits 14,000 s) and the 16th would wait 15,000 s: past the queue, within the
    # default validity period (36,000 s), so only the 4-hour queue refuses it.
    settings = SandboxSettings(callback_delay_ms=0)
    async with (
        serve_asgi(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, auth=(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)) as client,
    ):
        for address in (SERVICE, "+14155550123"):
            answer = await client.post("/sandbox/senders", json={"address": address, "mps": 0.001})
            assert answer.status_code == 200
        service_answers = [
            await client.post(
                MESSAGES, data={"To": TO, "MessagingServiceSid": SERVICE, "Body": str(i)}
            )
            for i in range(16)
        ]
        from_answers = [
            await client.post(MESSAGES, data={"To": TO, "From": "+14155550123", "Body": str(i)})
            for i in range(16)
        ]
        assert [a.status_code for a in service_answers] == [201] * 16
        message = MESSAGES.removesuffix(".json")
        # The others wait hours in the queue: wait for the last one's failure, not a drain.
        failed = await wait_for_status(
            client, f"{message}/{service_answers[-1].json()['sid']}.json"
        )
        assert (failed["status"], failed["error_code"]) == ("failed", 30001)
        waiting = (await client.get(f"{message}/{service_answers[14].json()['sid']}.json")).json()
        assert (waiting["status"], waiting["error_code"]) == ("queued", None)
        assert [a.status_code for a in from_answers] == [201] * 15 + [400]
        assert from_answers[-1].json()["code"] == 21611
        await client.post("/sandbox/reset")


@pytest.mark.parametrize(
    ("address", "mps", "kind"),
    [
        ("+14155550123", 1.0, "long_code"),  # US
        ("+16135550123", 1.0, "long_code"),  # Canada
        ("+447700900123", 10.0, "international_long_code"),  # UK
        ("+33612345678", 10.0, "international_long_code"),  # France
        ("whatsapp:+447700900123", 80.0, "whatsapp"),
    ],
)
def test_long_codes_outside_us_and_canada_send_ten_a_second(
    address: str, mps: float, kind: str
) -> None:
    queues = SenderQueues(default_mps=None)
    assert queues.mps_for(address) == mps
    queues.reserve(address, 1)
    [view] = queues.views()
    assert view.kind == kind
