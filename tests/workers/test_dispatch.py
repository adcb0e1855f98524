"""The dispatcher against provider answers faked at the transport, with a pinned clock."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from schemas.messages import SendMessagesRequest
from service.accounts import logic as accounts
from service.messages import logic
from tests.support.clock import TestClock
from tests.support.tenants import Tenant
from workers.channels.http import ProviderClient
from workers.channels.sms import MessagesApiChannel
from workers.dispatch import Dispatcher
from workers.ratelimit import RateLimiter

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


# A database of each test's own: a run drains every due message of its senders.
pytestmark = pytest.mark.own_stack


def request(n: int = 1, /, **extra: Any) -> SendMessagesRequest:
    body = {
        "to": [{"address": f"+1555867531{i}", "channel": "PHONE"} for i in range(n)],
        "content": {"text": "hi"},
        "from": {"address": "+15017122661", "channel": "SMS"},
        **extra,
    }
    return msgspec.convert(body, SendMessagesRequest)


def dispatcher(
    pool: asyncpg.Pool, handler: Callable[[httpx.Request], httpx.Response], clock: TestClock
) -> Dispatcher:
    client = ProviderClient(
        timeout_s=10, max_connections=10, transport=httpx.MockTransport(handler)
    )
    channel = MessagesApiChannel(
        client,
        base_url="https://provider.test",
        account_sid="AC" + "a" * 32,
        auth_token="t",
        status_callback_url="https://comms.test/callbacks/twilio/messages/status",
    )
    return Dispatcher(pool=pool, channels={"SMS": channel}, clock=clock, rng=random.Random(7))


def new_sid() -> str:
    return "SM" + uuid.uuid4().hex


def created(sid: str) -> httpx.Response:
    return httpx.Response(201, json={"sid": sid, "status": "queued"})


async def attempts_of(pool: asyncpg.Pool, operation_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT status, provider_sid, error_code FROM attempts WHERE operation_id = $1"
        " ORDER BY attempted_at, id",
        operation_id,
    )
    return rows


async def message_of(pool: asyncpg.Pool, operation_id: uuid.UUID) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT status, due_at, error_code FROM messages WHERE operation_id = $1", operation_id
    )


async def test_transient_answers_retry_with_backoff_until_accepted(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    clock = TestClock(T0)
    SID = new_sid()
    operation_id, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=request(), now=T0
    )
    answers = [
        httpx.Response(
            429, json={"code": 20429, "message": "Too Many Requests"}, headers={"Retry-After": "7"}
        ),
        httpx.Response(503, json={"code": 20503, "message": "Service unavailable"}),
        created(SID),
    ]
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return answers[len(seen) - 1]

    worker = dispatcher(pool, handler, clock)
    assert await worker.run(operation_id) == 1
    first = await message_of(pool, operation_id)
    assert first["status"] == "QUEUED"
    assert first["due_at"] == T0 + timedelta(seconds=7)  # Retry-After honoured
    assert await worker.run(operation_id) == 0  # not due yet
    clock.pinned = T0 + timedelta(seconds=7)
    assert await worker.run(operation_id) == 1
    second = await message_of(pool, operation_id)
    # The second failure in a row backs off by the schedule: 2 s base, jittered to 1..2 s.
    assert T0 + timedelta(seconds=8) <= second["due_at"] <= T0 + timedelta(seconds=9)
    clock.pinned = second["due_at"]
    assert await worker.run(operation_id) == 1
    final = await message_of(pool, operation_id)
    assert final["due_at"] is None
    assert [tuple(a) for a in await attempts_of(pool, operation_id)] == [
        ("FAILED", None, 20429),
        ("FAILED", None, 20503),
        ("QUEUED", SID, None),
    ]
    operation = await pool.fetchval("SELECT status FROM operations WHERE id = $1", operation_id)
    assert operation == "COMPLETED"
    assert len(seen) == 3
    form = dict(httpx.QueryParams(seen[0].content.decode()))
    assert form["To"] == "+15558675310"
    assert form["Body"] == "hi"
    assert form["StatusCallback"].startswith(
        "https://comms.test/callbacks/twilio/messages/status?attemptId="
    )


async def test_permanent_answer_fails_the_message_without_retry(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    clock = TestClock(T0)
    operation_id, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=request(), now=T0
    )
    calls = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(
            400,
            json={
                "code": 21610,
                "message": "Unsubscribed recipient",
                "more_info": "",
                "status": 400,
            },
        )

    await dispatcher(pool, handler, clock).run(operation_id)
    clock.pinned = T0 + timedelta(hours=1)
    await dispatcher(pool, handler, clock).run(operation_id)
    assert calls == 1
    message = await message_of(pool, operation_id)
    assert (message["status"], message["due_at"], message["error_code"]) == ("FAILED", None, 21610)


async def test_a_lost_answer_is_looked_up_before_sending_again(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    """A timeout mid-request may have reached the provider: ask it, adopt, never send twice."""
    clock = TestClock(T0)
    SID = new_sid()
    operation_id, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=request(), now=T0
    )
    posts = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal posts
        if req.method == "POST":
            posts += 1
            raise httpx.ReadTimeout("lost", request=req)
        assert req.url.params["To"] == "+15558675310"
        created_at = T0.strftime("%a, %d %b %Y %H:%M:%S +0000")
        return httpx.Response(
            200,
            json={
                "messages": [{"sid": SID, "body": "hi", "date_created": created_at}],
                "next_page_uri": None,
            },
        )

    worker = dispatcher(pool, handler, clock)
    await worker.run(operation_id)
    [attempt] = await attempts_of(pool, operation_id)
    assert attempt["status"] == "SUBMITTING"
    clock.pinned = T0 + timedelta(minutes=5)
    await worker.run(operation_id)
    assert posts == 1
    [attempt] = await attempts_of(pool, operation_id)
    assert (attempt["status"], attempt["provider_sid"]) == ("QUEUED", SID)
    assert (await message_of(pool, operation_id))["due_at"] is None


async def test_a_lookup_never_adopts_a_message_another_attempt_owns(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    """The same text to the same recipient twice within seconds: when the second send's
    answer is lost and only the first reached the provider, the lookup finds the first one.
    It belongs to the first message, so the second is sent again."""
    clock = TestClock(T0)
    first_sid, second_sid = new_sid(), new_sid()
    created_at = T0.strftime("%a, %d %b %Y %H:%M:%S +0000")
    answers = [created(first_sid), None, created(second_sid)]
    posts = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal posts
        if req.method == "GET":  # the provider has only the first message
            listed = [{"sid": first_sid, "body": "hi", "date_created": created_at}]
            return httpx.Response(200, json={"messages": listed, "next_page_uri": None})
        answer = answers[posts]
        posts += 1
        if answer is None:
            raise httpx.ReadTimeout("lost", request=req)
        return answer

    worker = dispatcher(pool, handler, clock)
    first, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=request(), now=T0
    )
    await worker.run(first)
    second, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=request(), now=T0
    )
    await worker.run(second)  # its answer is lost
    clock.pinned = T0 + timedelta(minutes=5)
    await worker.run(second)
    assert posts == 3
    assert [(a["status"], a["provider_sid"]) for a in await attempts_of(pool, first)] == [
        ("QUEUED", first_sid)
    ]
    assert [(a["status"], a["provider_sid"]) for a in await attempts_of(pool, second)] == [
        ("FAILED", None),
        ("QUEUED", second_sid),
    ]


async def test_one_conflicting_outcome_does_not_hold_up_the_rest_of_its_batch(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    """A provider that answers two sends with one SID: the batch's other outcomes are still
    recorded; only the message whose SID another attempt took waits, to be looked up."""
    clock = TestClock(T0)
    same, other = new_sid(), new_sid()
    answers = iter([same, same, other])
    operation_id, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=request(3), now=T0
    )
    worker = dispatcher(pool, lambda req: created(next(answers)), clock)
    assert await worker.run(operation_id) == 3
    attempts = await attempts_of(pool, operation_id)
    assert sorted(a["status"] for a in attempts) == ["QUEUED", "QUEUED", "SUBMITTING"]
    assert {a["provider_sid"] for a in attempts} == {same, other, None}
    waiting = await pool.fetchval(
        "SELECT count(*) FROM messages WHERE operation_id = $1 AND due_at IS NOT NULL",
        operation_id,
    )
    assert waiting == 1


async def test_a_lost_request_that_never_arrived_is_sent_again(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    clock = TestClock(T0)
    SID = new_sid()
    operation_id, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=request(), now=T0
    )
    posts = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal posts
        if req.method == "GET":
            return httpx.Response(200, json={"messages": [], "next_page_uri": None})
        posts += 1
        if posts == 1:
            raise httpx.ReadTimeout("lost", request=req)
        return created(SID)

    worker = dispatcher(pool, handler, clock)
    await worker.run(operation_id)
    clock.pinned = T0 + timedelta(minutes=5)
    await worker.run(operation_id)
    assert posts == 2
    statuses = [(a["status"], a["provider_sid"]) for a in await attempts_of(pool, operation_id)]
    assert statuses == [("FAILED", None), ("QUEUED", SID)]


async def test_validity_period_expiry_fails_with_30036(pool: asyncpg.Pool, tenant: Tenant) -> None:
    clock = TestClock(T0)
    operation_id, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=request(validityPeriod=5), now=T0
    )
    calls = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(
            503, json={"code": 20503, "message": "busy"}, headers={"Retry-After": "10"}
        )

    await dispatcher(pool, handler, clock).run(operation_id)
    message = await message_of(pool, operation_id)
    assert (message["status"], message["error_code"]) == ("FAILED", 30036)
    assert calls == 1
    # Waiting past the validity period without any try also ends in 30036.
    late_id, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=request(validityPeriod=5), now=T0
    )
    clock.pinned = T0 + timedelta(seconds=6)
    await dispatcher(pool, handler, clock).run(late_id)
    assert calls == 1
    assert (await message_of(pool, late_id))["error_code"] == 30036


async def test_rendered_text_over_the_limit_fails_only_that_message(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    clock = TestClock(T0)
    body = request(2, content={"text": "{{ long }}"})
    body.to[0].variables = {"long": "x" * 1601}
    body.to[1].variables = {"long": "short"}
    operation_id, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=body, now=T0
    )
    await dispatcher(pool, lambda req: created(f"SM{uuid.uuid4().hex}"), clock).run(operation_id)
    rows = await pool.fetch(
        "SELECT position, status, error_code FROM messages WHERE operation_id = $1"
        " ORDER BY position",
        operation_id,
    )
    assert [tuple(r) for r in rows] == [(0, "FAILED", 21617), (1, "QUEUED", None)]


async def test_a_failure_receipt_that_beats_the_create_answer_still_falls_back(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    """The provider's failed receipt can arrive before the worker records the 201 of the same
    send. The receipt moves the message to its next route; recording the 201 afterwards must
    not undo that (the message would stay QUEUED and never be due again)."""
    from service.callbacks import logic as receipts

    clock = TestClock(T0)
    operation_id, _ = await logic.accept_send(
        pool,
        account_sid=tenant.account_sid,
        request=request(
            to=[
                {
                    "addresses": [
                        {"address": "+15558675320", "channel": "PHONE"},
                        {"address": "+15558675321", "channel": "PHONE"},
                    ]
                }
            ]
        ),
        now=T0,
    )
    sids: list[str] = []

    async def handler(req: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(req.content.decode()))
        sids.append(new_sid())
        if len(sids) == 1:  # the undelivered receipt comes in before the answer is recorded
            attempt_ref = form["StatusCallback"].rpartition("attemptId=")[2]
            form = {"MessageSid": sids[0], "MessageStatus": "undelivered", "ErrorCode": "30003"}
            receipt = receipts.status_callback_receipt(form, attempt_ref, T0)
            assert receipt is not None
            await receipts.apply_receipts(pool, [receipt])
        return created(sids[-1])

    worker = dispatcher(pool, handler, clock)  # type: ignore[arg-type]
    # The receipt left the message due on its next route, so the same run sends it there.
    assert await worker.run(operation_id) == 2
    assert [tuple(a) for a in await attempts_of(pool, operation_id)] == [
        ("UNDELIVERED", sids[0], 30003),
        ("QUEUED", sids[1], None),
    ]
    final = await pool.fetchrow(
        "SELECT status, due_at, route_index, address FROM messages WHERE operation_id = $1",
        operation_id,
    )
    assert tuple(final) == ("QUEUED", None, 1, "+15558675321")


async def test_a_stalled_sender_does_not_hold_up_another(
    pool: asyncpg.Pool, tenant: Tenant, redis: Redis
) -> None:
    """Each sender is paced on its own: while every call for one sender hangs at the
    provider, another sender's messages all go (and only then are the hung calls answered,
    so a send path with head-of-line blocking would never finish)."""
    clock = TestClock(T0)
    stalled, fast = "+15017122672", "+15017122673"
    for sender, count in ((stalled, 3), (fast, 20)):
        to = [{"address": f"+1555869{n:04d}", "channel": "PHONE"} for n in range(count)]
        body = request(to=to, **{"from": {"address": sender, "channel": "SMS"}})
        await logic.accept_send(pool, account_sid=tenant.account_sid, request=body, now=T0)
    fast_sends: list[str] = []
    all_fast_sent = asyncio.Event()

    async def handler(req: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(req.content.decode()))
        if form["From"] == stalled:
            await all_fast_sent.wait()
        else:
            fast_sends.append(form["To"])
            if len(fast_sends) == 20:
                all_fast_sent.set()
        return created(new_sid())

    worker = dispatcher(pool, handler, clock)  # type: ignore[arg-type]
    worker.limiter = RateLimiter(redis)
    worker.unregistered_mps = 50.0
    assert await asyncio.wait_for(worker.run(), timeout=60) == 23
    assert len(set(fast_sends)) == 20
    statuses = await pool.fetch("SELECT DISTINCT status FROM messages")
    assert [r["status"] for r in statuses] == ["QUEUED"]


async def test_a_run_stops_claiming_after_its_time_and_the_next_carries_on(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    """A job ends before arq's job timeout would cancel it mid-batch: past run_for_s no batch
    is claimed (the first always is), and what is left stays due for the next run."""
    clock = TestClock(T0)
    await logic.accept_send(pool, account_sid=tenant.account_sid, request=request(5), now=T0)

    def handler(req: httpx.Request) -> httpx.Response:
        return created(new_sid())

    worker = dispatcher(pool, handler, clock)
    worker.batch_size, worker.run_for_s = 2, 0.0
    assert [await worker.run() for _ in range(4)] == [2, 2, 1, 0]


async def test_a_disabled_accounts_waiting_messages_fail_without_a_call(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    """Disabling an account (comms accounts disable) stops its sends already accepted: each
    fails with 30002 when it comes due, on every route, and no provider call is made. Once
    enabled again, the account's new sends go."""
    clock = TestClock(T0)
    stopped, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=request(3), now=T0
    )
    await accounts.set_account_disabled(pool, tenant.account_sid, True)
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return created(new_sid())

    assert await dispatcher(pool, handler, clock).run(stopped) == 3
    assert seen == []
    rows = await pool.fetch(
        "SELECT status, error_code, due_at FROM messages WHERE operation_id = $1", stopped
    )
    assert [(r["status"], r["error_code"], r["due_at"]) for r in rows] == [
        ("FAILED", 30002, None)
    ] * 3
    assert (
        await pool.fetchval("SELECT count(*) FROM attempts WHERE operation_id = $1", stopped) == 0
    )
    status = await pool.fetchval("SELECT status FROM operations WHERE id = $1", stopped)
    assert status == "COMPLETED"

    await accounts.set_account_disabled(pool, tenant.account_sid, False)
    again, _ = await logic.accept_send(
        pool, account_sid=tenant.account_sid, request=request(), now=T0
    )
    assert await dispatcher(pool, handler, clock).run(again) == 1
    assert len(seen) == 1
    assert [a["provider_sid"] is not None for a in await attempts_of(pool, again)] == [True]
