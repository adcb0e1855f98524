"""Per-sender queues drained at the sender's rate, 21611 past the validity period, and fault
injection (429 / 5xx / lost answers / latency) that is deterministic under a seed."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException

from sandbox.app import create_app
from sandbox.rates import SenderQueues
from sandbox.serving import serve_asgi
from sandbox.settings import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, SandboxSettings

TO = "+14155550100"
FROM = "+14155550123"
MESSAGES = f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"


@pytest.mark.parametrize(
    ("address", "mps"),
    [
        ("+14155550123", 1.0),  # long code
        ("+18005550123", 3.0),  # toll-free
        ("+18885550123", 3.0),
        ("55555", 100.0),  # short code
        ("MyBrand", 10.0),  # alphanumeric sender ID
        ("whatsapp:+14155550123", 80.0),
        ("MG" + "a" * 32, 10.0),  # a Messaging Service's pool
    ],
)
def test_default_rates_by_sender_shape(address: str, mps: float) -> None:
    assert SenderQueues(default_mps=None).mps_for(address) == mps


def test_default_mps_overrides_shapes_and_configured_overrides_both() -> None:
    queues = SenderQueues(default_mps=0)
    assert queues.mps_for("+14155550123") == 0
    queues.configure("+14155550123", 5)
    assert queues.mps_for("+14155550123") == 5


def test_queue_slots_follow_segments() -> None:
    now = [100.0]
    queues = SenderQueues(default_mps=None, now=lambda: now[0])
    queues.configure("+1", 2)
    assert queues.reserve("+1", 1).leaves_at == 100.0
    assert queues.reserve("+1", 3).leaves_at == 100.5  # one segment at 2 MPS
    assert queues.reserve("+1", 1).leaves_at == 102.0  # three segments later
    assert queues.wait_for("+1") == pytest.approx(2.5)
    now[0] = 103.0
    assert queues.wait_for("+1") == 0
    assert queues.reserve("+1", 1).wait_s == 0


async def test_sender_queue_paces_sends(sandbox: Any) -> None:
    configured = await sandbox.http.post("/sandbox/senders", json={"address": FROM, "mps": 20})
    assert configured.status_code == 200
    assert configured.json()["mps"] == 20
    other = "+14155550124"  # unthrottled in the test settings

    for i in range(6):
        assert (await sandbox.send(To=TO, From=FROM, Body=f"paced {i}")).status_code == 201
    await asyncio.gather(*(sandbox.send(To=TO, From=other, Body=f"free {i}") for i in range(6)))
    await sandbox.drain()

    sent = await sandbox.sent()
    paced = [m["sent_at"] for m in sent if m["from"] == FROM]
    free = sorted(m["sent_at"] for m in sent if m["from"] == other)
    # The n-th leaves the queue no sooner than n/20 s after the first arrived (to the timer's
    # resolution); a step that fires late delays its own send, never the schedule.
    start = min(m["received_at"] for m in sent if m["from"] == FROM)
    assert all(at >= start + n / 20 - 0.002 for n, at in enumerate(paced)), paced
    assert paced[-1] - start >= 0.248
    assert free[-1] - free[0] < paced[-1] - paced[0]
    assert all(m["received_at"] <= m["sent_at"] for m in sent)


async def test_multi_segment_messages_take_more_of_the_queue(sandbox: Any) -> None:
    await sandbox.http.post("/sandbox/senders", json={"address": FROM, "mps": 20})
    await sandbox.send(To=TO, From=FROM, Body="x" * 459)  # 3 segments
    await sandbox.send(To=TO, From=FROM, Body="next")
    await sandbox.drain()
    first, second = await sandbox.sent()
    assert second["sent_at"] - first["sent_at"] >= 0.14


async def test_queue_longer_than_validity_is_21611(sandbox: Any, messages_schema: Any) -> None:
    await sandbox.http.post("/sandbox/senders", json={"address": FROM, "mps": 1})
    answers = [
        await sandbox.send(To=TO, From=FROM, Body=str(i), ValidityPeriod="2") for i in range(4)
    ]

    assert [a.status_code for a in answers] == [201, 201, 201, 400]
    messages_schema.validate_error(answers[3].json())
    assert answers[3].json()["code"] == 21611
    senders = (await sandbox.http.get("/sandbox/senders")).json()["senders"]
    [view] = [s for s in senders if s["address"] == FROM]
    assert 2.5 <= view["backlog_s"] <= 3.0
    assert view["configured"] is True
    assert len(await sandbox.sent()) == 3


async def test_messaging_service_overflow_fails_after_acceptance(
    sandbox: Any, receiver: Any
) -> None:
    service = "MG" + "4" * 32
    await sandbox.http.post("/sandbox/senders", json={"address": service, "mps": 1})
    await sandbox.send(To=TO, MessagingServiceSid=service, Body="first", ValidityPeriod="1")
    await sandbox.send(To=TO, MessagingServiceSid=service, Body="second", ValidityPeriod="1")
    late = await sandbox.send(
        To=TO,
        MessagingServiceSid=service,
        Body="third",
        ValidityPeriod="1",
        StatusCallback=receiver.url("/late"),
    )
    assert late.status_code == 201
    await receiver.wait_for(2)

    assert [w.form["MessageStatus"] for w in receiver.received] == ["queued", "failed"]
    assert receiver.received[-1].form["ErrorCode"] == "30036"
    assert (await sandbox.fetch(late.json()["sid"])).json()["error_code"] == 30036


async def test_unknown_sender_configuration_is_rejected(sandbox: Any) -> None:
    response = await sandbox.http.post(
        "/sandbox/senders", json={"address": "+0-not-a-sender", "mps": 1}
    )
    assert response.status_code == 400


async def test_long_codes_default_to_one_per_second() -> None:
    async with (
        serve_asgi(create_app(SandboxSettings(callback_delay_ms=0))) as url,
        httpx.AsyncClient(base_url=url, auth=(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)) as client,
    ):
        for i in range(3):
            await client.post(MESSAGES, data={"To": TO, "From": FROM, "Body": str(i)})
        await client.post(MESSAGES, data={"To": TO, "From": "55555", "Body": "short code"})
        senders = {
            s["address"]: s for s in (await client.get("/sandbox/senders")).json()["senders"]
        }
        assert senders[FROM]["mps"] == 1
        assert senders[FROM]["kind"] == "long_code"
        assert 2.5 <= senders[FROM]["backlog_s"] <= 3.0
        assert senders["55555"]["backlog_s"] <= 0.01


# --- fault injection ------------------------------------------------------------------------


async def test_injected_429_has_retry_after_and_creates_nothing(
    sandbox: Any, messages_schema: Any
) -> None:
    config = await sandbox.configure(rate_429=1, retry_after_s=3)
    assert config["rate_429"] == 1

    response = await sandbox.send(To=TO, From=FROM, Body="x")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    messages_schema.validate_error(response.json())
    assert response.json()["code"] == 20429
    assert await sandbox.sent() == []
    # reads are not affected
    assert (await sandbox.http.get(sandbox.messages_path)).status_code == 200


async def test_injected_5xx(sandbox: Any, messages_schema: Any) -> None:
    await sandbox.configure(rate_5xx=1, seed=1)
    statuses = set()
    for _ in range(20):
        response = await sandbox.send(To=TO, From=FROM, Body="x")
        messages_schema.validate_error(response.json())
        statuses.add((response.status_code, response.json()["code"]))
    assert statuses == {(500, 20500), (503, 20503)}
    assert await sandbox.sent() == []


async def test_a_lost_answer_comes_late_but_the_message_is_sent(sandbox: Any) -> None:
    await sandbox.configure(rate_lost=1, lost_answer_ms=2000)
    with pytest.raises(httpx.ReadTimeout):
        await sandbox.http.post(
            sandbox.messages_path, data={"To": TO, "From": FROM, "Body": "x"}, timeout=0.2
        )
    [sent] = await sandbox.sent()  # the create was carried out; only its answer is held
    assert sent["to"] == TO
    listed = (await sandbox.http.get(sandbox.messages_path, params={"To": TO})).json()
    assert [m["sid"] for m in listed["messages"]] == [sent["sid"]]
    await sandbox.configure(rate_lost=0)


async def run_mix(sandbox: Any, count: int) -> list[int]:
    return [(await sandbox.send(To=TO, From=FROM, Body="x")).status_code for _ in range(count)]


async def test_faults_are_deterministic_under_a_seed(sandbox: Any) -> None:
    await sandbox.configure(rate_429=0.3, rate_5xx=0.2, seed=42)
    first = await run_mix(sandbox, 60)
    await sandbox.configure(seed=42)  # reseeding replays the same dice
    second = await run_mix(sandbox, 60)

    assert first == second
    assert 8 <= first.count(429) <= 30
    assert 4 <= sum(s >= 500 for s in first) <= 24
    accepted = first.count(201) + second.count(201)
    assert len(await sandbox.sent()) == accepted

    await sandbox.configure(rate_429=0, rate_5xx=0)
    assert await run_mix(sandbox, 5) == [201] * 5


async def test_faults_from_settings_match_the_seeded_generator() -> None:
    settings = SandboxSettings(callback_delay_ms=0, default_mps=0, rate_429=0.5, seed=7)
    rng = random.Random(7)
    expected = [429 if rng.random() < 0.5 else 201 for _ in range(20)]
    async with (
        serve_asgi(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, auth=(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)) as client,
    ):
        answers = [
            (await client.post(MESSAGES, data={"To": TO, "From": FROM, "Body": "x"})).status_code
            for _ in range(20)
        ]
        assert answers == expected
        # reset restores the configured faults and reseeds
        await client.post("/sandbox/reset")
        again = [
            (await client.post(MESSAGES, data={"To": TO, "From": FROM, "Body": "x"})).status_code
            for _ in range(20)
        ]
        assert again == expected


async def test_added_latency(sandbox: Any) -> None:
    await sandbox.configure(latency_ms=60)
    started = time.perf_counter()
    response = await sandbox.http.get(sandbox.messages_path)
    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.055
    await sandbox.configure(latency_ms=0)


async def test_config_rejects_bad_values(sandbox: Any) -> None:
    for body in ({"rate_429": 2}, {"latency_ms": -1}, {"nonsense": 1}):
        assert (await sandbox.http.post("/sandbox/config", json=body)).status_code == 400
    config = (await sandbox.http.get("/sandbox/config")).json()
    assert config["rate_429"] == 0


async def test_sdk_sees_injected_429(sandbox: Any, twilio_client: Any) -> None:
    await sandbox.configure(rate_429=1, retry_after_s=1)
    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(twilio_client.messages.create, to=TO, from_=FROM, body="x")
    assert caught.value.status == 429
    assert caught.value.code == 20429
