"""Status callbacks: order, Twilio's parameters, signatures the official validator accepts,
retries, and /sandbox/drain."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.app import create_app
from sandbox.serving import serve_asgi
from sandbox.settings import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, SandboxSettings
from sandbox.signing import compute_signature

FROM = "+15005550006"
TO = "+14155550100"


async def test_callbacks_arrive_in_order_signed(
    sandbox: Any, receiver: Any, check_signature: Any
) -> None:
    callback = receiver.url("/status?attempt=a1&op=42")  # the query string is signed too
    sid = (await sandbox.send(To=TO, From=FROM, Body="hello", StatusCallback=callback)).json()[
        "sid"
    ]

    await sandbox.drain()

    received = receiver.received
    # Twilio reports status changes after creation: never the "queued" a message is created in.
    assert [w.form["MessageStatus"] for w in received] == ["sent", "delivered"]
    for webhook in received:
        check_signature(webhook)
        assert webhook.method == "POST"
        assert webhook.headers["content-type"].startswith("application/x-www-form-urlencoded")
        assert webhook.url == callback
        form = webhook.form
        assert form["MessageSid"] == form["SmsSid"] == sid
        assert form["SmsStatus"] == form["MessageStatus"]
        assert form["AccountSid"] == DEFAULT_ACCOUNT_SID
        assert form["From"] == FROM
        assert form["To"] == TO
        assert form["ApiVersion"] == "2010-04-01"
        assert form["NumSegments"] == "1"
        assert "ErrorCode" not in form
    assert len(received[-1].form["RawDlrDoneDate"]) == 10
    assert len({w.headers["i-twilio-idempotency-token"] for w in received}) == 2

    fetched = (await sandbox.fetch(sid)).json()
    assert fetched["status"] == "delivered"


@pytest.mark.parametrize(
    ("to", "statuses", "error_code"),
    [
        ("+15005550010", ["sent", "undelivered"], "30003"),
        ("+15005550013", ["sent", "undelivered"], "30007"),
        ("+15005550014", ["failed"], "30008"),
        ("+15005550015", ["sent", "delivered", "read"], None),
        ("+15005550016", ["sent"], None),
    ],
)
async def test_outcome_callbacks(
    sandbox: Any,
    receiver: Any,
    check_signature: Any,
    to: str,
    statuses: list[str],
    error_code: str | None,
) -> None:
    await sandbox.send(To=to, From=FROM, Body="x", StatusCallback=receiver.url("/status"))
    await sandbox.drain()

    assert [w.form["MessageStatus"] for w in receiver.received] == statuses
    last = receiver.received[-1].form
    assert last.get("ErrorCode") == error_code
    for webhook in receiver.received:
        check_signature(webhook)


async def test_messaging_service_callbacks_carry_the_service(sandbox: Any, receiver: Any) -> None:
    service = "MG" + "3" * 32
    await sandbox.send(
        To=TO, MessagingServiceSid=service, Body="x", StatusCallback=receiver.url("/s")
    )
    await sandbox.drain()

    forms = [w.form for w in receiver.received]
    # Created "accepted"; the move to "queued" is a change, so it is reported (as on Twilio).
    assert [f["MessageStatus"] for f in forms] == ["queued", "sent", "delivered"]
    assert all(f["MessagingServiceSid"] == service for f in forms)
    assert all(f["From"].startswith("+1201555") for f in forms)


async def test_callbacks_of_many_messages_are_each_in_order(sandbox: Any, receiver: Any) -> None:
    sids = [
        (
            await sandbox.send(To=TO, From=FROM, Body=str(i), StatusCallback=receiver.url("/s"))
        ).json()["sid"]
        for i in range(20)
    ]
    await sandbox.drain()

    assert len(receiver.received) == 40
    for sid in sids:
        statuses = [
            w.form["MessageStatus"] for w in receiver.received if w.form["MessageSid"] == sid
        ]
        assert statuses == ["sent", "delivered"]


async def test_5xx_answers_are_retried_with_the_same_token(sandbox: Any, receiver: Any) -> None:
    receiver.failures = 2
    await sandbox.send(To=TO, From=FROM, Body="x", StatusCallback=receiver.url("/s"))
    await sandbox.drain()

    assert [w.form["MessageStatus"] for w in receiver.failed] == ["sent", "sent"]
    assert [w.form["MessageStatus"] for w in receiver.received] == ["sent", "delivered"]
    first_token = receiver.received[0].headers["i-twilio-idempotency-token"]
    assert all(w.headers["i-twilio-idempotency-token"] == first_token for w in receiver.failed)
    attempts = (await sandbox.http.get("/sandbox/webhooks")).json()["attempts"]
    assert [a["status_code"] for a in attempts[:3]] == [500, 500, 200]


async def test_unreachable_receiver_is_given_up_and_the_message_still_moves_on(
    sandbox: Any,
) -> None:
    dead = "http://127.0.0.1:9/status"  # discard port: nothing listens
    sid = (await sandbox.send(To=TO, From=FROM, Body="x", StatusCallback=dead)).json()["sid"]
    await sandbox.drain()

    attempts = (await sandbox.http.get("/sandbox/webhooks")).json()["attempts"]
    assert len(attempts) == 2 * 3  # two changes (sent, delivered), each tried three times
    assert all(a["status_code"] is None and a["error"] for a in attempts)
    assert (await sandbox.fetch(sid)).json()["status"] == "delivered"


async def test_4xx_answers_are_not_retried(sandbox: Any, receiver: Any) -> None:
    receiver.reply_status = 404
    await sandbox.send(To=TO, From=FROM, Body="x", StatusCallback=receiver.url("/gone"))
    await sandbox.drain()
    assert len(receiver.received) == 2


async def test_no_callback_without_status_callback(sandbox: Any, receiver: Any) -> None:
    sid = (await sandbox.send(To=TO, From=FROM, Body="x")).json()["sid"]
    await sandbox.drain()
    assert receiver.received == []
    assert (await sandbox.fetch(sid)).json()["status"] == "delivered"


@pytest.mark.parametrize(
    "params",
    [
        [],
        [("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234")],
        [("MediaUrl", "https://b.example/2"), ("MediaUrl", "https://a.example/1"), ("Body", "é ✓")],
        [("B", "x"), ("A", "y"), ("A", "y")],
    ],
)
def test_signature_is_what_the_twilio_helper_computes(params: list[tuple[str, str]]) -> None:
    from twilio.request_validator import RequestValidator

    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    multi: dict[str, list[str]] = {}
    for name, value in params:
        multi.setdefault(name, []).append(value)

    class MultiDict(dict[str, str]):
        def getall(self, name: str) -> list[str]:
            return multi[name]

    expected = RequestValidator("12345").compute_signature(url, MultiDict(params))
    assert compute_signature("12345", url, params) == expected


async def test_drain_waits_for_delayed_steps(receiver: Any, check_signature: Any) -> None:
    settings = SandboxSettings(callback_delay_ms=30, default_mps=0)
    async with (
        serve_asgi(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, auth=(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)) as client,
    ):
        response = await client.post(
            f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json",
            data={"To": TO, "From": FROM, "Body": "x", "StatusCallback": receiver.url("/slow")},
        )
        sid = response.json()["sid"]

        drained = await client.post("/sandbox/drain")

        assert drained.json() == {"drained": True, "pending": 0}
        assert [w.form["MessageStatus"] for w in receiver.received] == ["sent", "delivered"]
        fetched = await client.get(
            f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages/{sid}.json"
        )
        assert fetched.json()["status"] == "delivered"


async def test_drain_timeout_answers_503(receiver: Any) -> None:
    settings = SandboxSettings(callback_delay_ms=2_000, default_mps=0)
    async with (
        serve_asgi(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, auth=(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)) as client,
    ):
        await client.post(
            f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json",
            data={"To": TO, "From": FROM, "Body": "x"},
        )
        drained = await client.post("/sandbox/drain", params={"timeout": 0.05})
        assert drained.status_code == 503
        assert drained.json() == {"drained": False, "pending": 1}
        # reset cancels the pending lifecycle
        await client.post("/sandbox/reset")
        assert (await client.get("/sandbox/health")).json()["pending_tasks"] == 0
