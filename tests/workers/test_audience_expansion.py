"""Sends to profiles and audiences, and large sends' staged recipients, expanded by the workers
(service/audiences/expansion.py): one message per profile however it is named, its addresses as
fallback routes, its attributes in templates, its time zone for local schedules, stats while
expanding, cancels, and a worker killed mid-expansion losing and repeating nothing."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from service import error_codes, ids
from service.audiences import expansion
from service.clock import system_clock
from service.messages import logic as messages_logic
from service.settings import Settings
from tests.support.api import all_pages, message_details, messages_of, operation, send
from tests.support.profiles import insert_phone_profiles, insert_profile, profile_typeid
from tests.support.provider import sandbox_sends_to
from tests.support.tenants import Tenant
from tests.support.workers import WorkerProcesses, settle
from workers import settings as worker_settings

pytestmark = pytest.mark.own_stack


async def audience(client: httpx.AsyncClient, **body: Any) -> str:
    response = await client.post("/v1/Audiences", json={"displayName": "a", **body})
    assert response.status_code == 201, response.text
    audience_id: str = response.json()["id"]
    return audience_id


async def add_members(client: httpx.AsyncClient, audience_id: str, profiles: list[str]) -> None:
    response = await client.post(
        f"/v1/Audiences/{audience_id}/Members", json={"profileIds": profiles}
    )
    assert response.status_code == 200, response.text


async def static_audience_of_five(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, first_number: int
) -> str:
    """A static audience of 5 new profiles, one phone number each from +<first_number>."""
    members = await insert_phone_profiles(pool, tenant.account_sid, 5, first_number=first_number)
    static = await audience(client)
    await add_members(client, static, [profile_typeid(p) for p in members])
    return static


async def test_a_profile_is_sent_on_its_addresses_in_order(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
) -> None:
    # The first address is refused by the provider (21211): the second is the fallback.
    profile = await insert_profile(
        pool,
        tenant.account_sid,
        addresses=[("+15005550001", "PHONE"), ("+15558676001", "PHONE")],
        attributes={"firstName": "Ada"},
    )
    operation_id = await send(client, [{"profileId": profile}])
    await settle(sandbox, settings, rounds=2)

    [message] = await message_details(client, operation_id)
    assert message["status"] == "DELIVERED", message
    assert [a["to"][0]["address"] for a in message["attempts"]] == [
        "+15005550001",
        "+15558676001",
    ]
    assert len(await sandbox_sends_to(sandbox, "+15558676001")) == 1
    done = await operation(client, operation_id)
    assert done["status"] == "COMPLETED"
    assert done["stats"]["total"] == done["stats"]["recipients"] == 1


async def test_overlapping_sources_get_one_message_per_profile(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
) -> None:
    numbers = [f"+155586761{n:02d}" for n in range(6)]
    profiles = [
        await insert_profile(
            pool,
            tenant.account_sid,
            addresses=[(number, "PHONE")],
            attributes={"plan": "pro" if n % 2 else "free", "n": n},
        )
        for n, number in enumerate(numbers)
    ]
    static = await audience(client)
    await add_members(client, static, profiles[:4])
    second = await audience(client)
    await add_members(client, second, profiles[2:5])
    pro = await audience(client, filter={"attributes.plan": "pro"})  # 1, 3, 5
    operation_id = await send(
        client,
        [
            {"audienceId": static},
            {"audienceId": second},
            {"audienceId": pro},
            {"profileId": profiles[0]},
            {"audienceId": static},
            {"address": numbers[0], "channel": "PHONE"},  # an address: a message of its own
        ],
    )
    await settle(sandbox, settings)

    messages = await messages_of(client, operation_id)
    assert sorted(m["to"][0]["address"] for m in messages) == sorted([*numbers, numbers[0]])
    for number in numbers[1:]:
        assert len(await sandbox_sends_to(sandbox, number)) == 1, number
    assert len(await sandbox_sends_to(sandbox, numbers[0])) == 2
    done = await operation(client, operation_id)
    assert done["status"] == "COMPLETED"
    assert done["stats"]["recipients"] == done["stats"]["total"] == 7
    assert done["stats"]["delivered"] == 7


async def test_expanded_messages_are_listed_with_their_send(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
) -> None:
    """Messages expanded later carry their send's creation time, like the send's other
    messages: the lists (ordered by it, then by id) keep the send together, and the tag and
    operation filters page through all of it, with a send made in between."""
    numbers = [f"+155586762{n:02d}" for n in range(7)]
    profiles = [
        await insert_profile(pool, tenant.account_sid, addresses=[(number, "PHONE")])
        for number in numbers
    ]
    members = await audience(client)
    await add_members(client, members, profiles)
    operation_id = await send(
        client,
        [{"audienceId": members}, "+15558676299"],
        tags={"campaign": "expanded"},
    )
    other = await send(client, ["+15558676298"], tags={"campaign": "other"})
    await settle(sandbox, settings)

    created = await pool.fetch(
        "SELECT DISTINCT m.created_at = o.created_at AS same FROM messages m"
        " JOIN operations o ON o.id = m.operation_id WHERE o.account_sid = $1",
        tenant.account_sid,
    )
    assert [r["same"] for r in created] == [True]
    everything = await all_pages(client, "/v1/Messages", "messages", {"pageSize": 3})
    by_tag = await all_pages(
        client, "/v1/Messages", "messages", {"tags": "campaign:expanded;", "pageSize": 3}
    )
    by_operation = await all_pages(
        client, "/v1/Messages", "messages", {"operationId": operation_id, "pageSize": 3}
    )
    ours = [m["id"] for m in everything if m["operationId"] == operation_id]
    assert len(ours) == len(set(ours)) == 8
    assert [m["id"] for m in by_tag] == ours
    assert [m["id"] for m in by_operation] == ours
    # Newest send first, each send's messages together.
    assert [m["operationId"] for m in everything] == [other] + [operation_id] * 8


async def test_templates_read_profile_attributes_in_both_syntaxes(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
) -> None:
    ada = await insert_profile(
        pool,
        tenant.account_sid,
        addresses=[("+15558676201", "PHONE")],
        attributes={"firstName": "Ada", "age": 36, "vip": True},
    )
    bare = await insert_profile(pool, tenant.account_sid, addresses=[("+15558676202", "PHONE")])
    text = (
        "Hi {{ profile.attributes.firstName | default: 'there' }} / "
        "${Twilio.Profile.firstName} {{ profile.attributes.age | plus: 1 }}"
        "{% if profile.attributes.vip == 'true' %} VIP{% endif %}"
    )
    await send(
        client,
        [{"profileId": ada}, {"profileId": bare}],
        content={"text": text},
        tags={"who": "${Twilio.Profile.firstName}"},
    )
    await settle(sandbox, settings)
    [to_ada] = await sandbox_sends_to(sandbox, "+15558676201")
    assert to_ada["body"] == "Hi Ada / Ada 37 VIP"
    [to_bare] = await sandbox_sends_to(sandbox, "+15558676202")
    assert to_bare["body"] == "Hi there /  1"


async def test_a_local_schedule_uses_the_profiles_time_zone(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
) -> None:
    # A US number in Tokyo: the profile's zone wins; without one, the number's zone applies.
    tokyo = await insert_profile(
        pool, tenant.account_sid, addresses=[("+12125550101", "PHONE")], time_zone="Asia/Tokyo"
    )
    new_york = await insert_profile(pool, tenant.account_sid, addresses=[("+12125550102", "PHONE")])
    local = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=9, minute=30, second=0, microsecond=0, tzinfo=None
    )
    operation_id = await send(
        client,
        [{"profileId": tokyo}, {"profileId": new_york}],
        schedule={"sendAt": [local.isoformat()]},
    )
    await settle(sandbox, settings)
    by_address = {
        m["to"][0]["address"]: m["scheduledFor"] for m in await messages_of(client, operation_id)
    }

    def instant(zone: str) -> str:
        when = local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    assert by_address == {
        "+12125550101": instant("Asia/Tokyo"),
        "+12125550102": instant("America/New_York"),
    }
    scheduled = await operation(client, operation_id)
    assert scheduled["status"] == "SCHEDULED"
    assert scheduled["stats"]["scheduled"] == 2
    assert await sandbox_sends_to(sandbox, "+12125550101") == []


async def test_a_profile_with_no_usable_address_fails_unaddressable(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
) -> None:
    nowhere = await insert_profile(pool, tenant.account_sid)
    whatsapp_only = await insert_profile(
        pool, tenant.account_sid, addresses=[("+15558676301", "WHATSAPP"), ("12", "PHONE")]
    )
    operation_id = await send(client, [{"profileId": nowhere}, {"profileId": whatsapp_only}])
    await settle(sandbox, settings)
    messages = await message_details(client, operation_id)
    assert [m["status"] for m in messages] == ["FAILED", "FAILED"]
    done = await operation(client, operation_id)
    assert done["status"] == "COMPLETED"
    assert done["stats"]["unaddressable"] == done["stats"]["failed"] == 2
    errors = (await client.get(f"/v1/Messages/Operations/{operation_id}/Errors")).json()
    assert errors["counts"] == [{"code": error_codes.UNADDRESSABLE.code, "count": 2}]


async def test_stats_while_expanding_and_after(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    redis: Redis,
) -> None:
    static = await static_audience_of_five(client, pool, tenant, 15558676400)
    operation_id = await send(client, [{"audienceId": static}])
    key = ids.decode(ids.OPERATION, operation_id)
    assert key is not None
    await redis.flushdb()  # no dispatch job: the test expands a page at a time itself

    async def expand(pages: int) -> int:
        return await expansion.expand_operation(
            pool, key, clock=system_clock, page_size=2, max_pages=pages
        )

    async def send_what_is_due() -> None:
        """The send loop alone (a dispatch job would expand the rest first)."""
        http = worker_settings.provider_client(settings)
        try:
            await worker_settings.build_dispatcher(settings, pool, http).run(key)
        finally:
            await http.aclose()
        await sandbox.post("/sandbox/drain")

    assert await expand(1) == 2
    during = await operation(client, operation_id)
    assert during["status"] == "PROCESSING"
    assert during["stats"]["recipients"] == during["stats"]["total"] == 2
    assert during["stats"]["queued"] == 2
    # Its first page sent and delivered: still PROCESSING, the rest is not expanded yet.
    await send_what_is_due()
    during = await operation(client, operation_id)
    assert during["status"] == "PROCESSING"
    assert during["stats"]["delivered"] == 2

    assert await expand(10) == 3
    await send_what_is_due()
    after = await operation(client, operation_id)
    assert after["status"] == "COMPLETED"
    assert after["stats"]["recipients"] == after["stats"]["total"] == 5
    assert after["stats"]["delivered"] == 5
    assert await expand(1) == 0  # nothing left: nothing again


async def test_a_cancel_stops_an_expansion_before_or_between_pages(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    redis: Redis,
) -> None:
    """A send whose audience is not expanded yet can be canceled (nothing of it is made), and
    so can one between two pages: the messages made are canceled, no more are made."""
    static = await static_audience_of_five(client, pool, tenant, 15558676500)
    before = await send(client, [{"audienceId": static}])
    between = await send(client, [{"audienceId": static}])
    await redis.flushdb()  # no dispatch jobs: the test expands itself
    key = ids.decode(ids.OPERATION, between)
    assert key is not None
    assert (
        await expansion.expand_operation(pool, key, clock=system_clock, page_size=2, max_pages=1)
        == 2
    )

    for operation_id in (before, between):
        canceled = await client.post(f"/v1/Messages/Operations/{operation_id}/Cancel")
        assert canceled.status_code == 202, canceled.text
    await settle(sandbox, settings)

    assert (await operation(client, before))["stats"]["total"] == 0
    after = await operation(client, between)
    assert after["stats"]["total"] == 2
    assert after["stats"]["canceled"] == 2
    for operation_id in (before, between):
        done = await operation(client, operation_id)
        assert done["status"] == "CANCELED"
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM operations WHERE account_sid = $1 AND expanding",
            tenant.account_sid,
        )
        == 0
    )
    for member in range(5):
        assert await sandbox_sends_to(sandbox, f"+{15558676500 + member}") == []
    # Canceled twice: nothing left to cancel.
    again = await client.post(f"/v1/Messages/Operations/{before}/Cancel")
    assert again.status_code == 409


async def test_an_audience_emptied_or_deleted_completes_the_operation(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
) -> None:
    static = await audience(client)
    operation_id = await send(client, [{"audienceId": static}])
    assert (await client.delete(f"/v1/Audiences/{static}")).status_code == 204
    await settle(sandbox, settings)
    done = await operation(client, operation_id)
    assert done["status"] == "COMPLETED"
    assert done["stats"]["total"] == 0


# A worker process killed mid-expansion -------------------------------------------------------

SENDER = "+15017122675"
KILLED_AUDIENCE = 1_500


@pytest.fixture
async def workers(
    settings: Settings, sandbox: httpx.AsyncClient, redis: Redis, tmp_path: Path
) -> AsyncIterator[WorkerProcesses]:
    started = WorkerProcesses(
        settings,
        tmp_path / "workers.log",
        CLAIM_LEASE_S="8",
        PROVIDER_TIMEOUT_S="3",
        UNREGISTERED_SENDER_MPS="2000",
        EXPANSION_PAGE_SIZE="100",
    )
    try:
        yield started
    finally:
        started.kill_all()
        await redis.flushdb()


async def wait_for(
    condition: Callable[[], Awaitable[bool]], what: str, deadline_s: float = 180.0
) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_s
    while not await condition():
        if loop.time() > give_up:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def killed_waiting_on_the_row(
    pool: asyncpg.Pool, worker: subprocess.Popen[bytes]
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction for the caller to lock the operation row in (FOR UPDATE); once the worker's
    next page waits for that row inside its own transaction, the worker is killed there, then
    the row is let go."""
    async with pool.acquire() as conn:
        held = conn.transaction()
        await held.start()
        yield conn

        async def waiting_on_the_row() -> bool:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return int(waiting) > 0

        await wait_for(waiting_on_the_row, "the worker's next page to wait for the row")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        await held.rollback()


async def settled(pool: asyncpg.Pool, key: Any) -> bool:
    """The operation's expansion is over and none of its messages is waiting."""
    row = await pool.fetchrow(
        "SELECT o.expanding, (SELECT count(*) FROM messages m"
        " WHERE m.operation_id = o.id AND m.due_at IS NOT NULL) AS waiting"
        " FROM operations o WHERE o.id = $1",
        key,
    )
    return not row["expanding"] and row["waiting"] == 0


async def test_a_worker_killed_mid_expansion_loses_and_repeats_nothing(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    pool: asyncpg.Pool,
    tenant: Tenant,
    workers: WorkerProcesses,
) -> None:
    members = await insert_phone_profiles(
        pool, tenant.account_sid, KILLED_AUDIENCE, first_number=15558800000
    )
    static = await audience(client)
    await pool.execute(
        "INSERT INTO audience_members (audience_id, profile_id, added_at)"
        " SELECT $1, unnest($2::uuid[]), now()",
        ids.decode(ids.AUDIENCE, static),
        members,
    )
    operation_id = await send(
        client, [{"audienceId": static}], **{"from": {"address": SENDER, "channel": "SMS"}}
    )
    key = ids.decode(ids.OPERATION, operation_id)
    worker = workers.start()

    async def first_page_in() -> bool:
        in_already: bool = await pool.fetchval(
            "SELECT expansion_cursor IS NOT NULL FROM operations WHERE id = $1", key
        )
        return in_already

    await wait_for(first_page_in, "the first page of the expansion")
    # The operation row is held here, so the worker's next page waits inside its transaction,
    # and is killed there: nothing of that page may stay, nothing before it may repeat.
    async with killed_waiting_on_the_row(pool, worker) as conn:
        state = await conn.fetchrow(
            "SELECT expanding, total FROM operations WHERE id = $1 FOR UPDATE", key
        )
        assert state["expanding"], "the expansion ended before the kill: make the audience larger"
        assert 0 < state["total"] < KILLED_AUDIENCE

    workers.start()
    await wait_for(functools.partial(settled, pool, key), "the expansion and every send to finish")

    numbers = sorted(f"+{15558800000 + n}" for n in range(KILLED_AUDIENCE))
    rows = await pool.fetch("SELECT address FROM messages WHERE operation_id = $1", key)
    assert sorted(r["address"] for r in rows) == numbers, workers.tail()
    ledger = (await sandbox.get("/sandbox/messages")).json()["messages"]
    sent = [m for m in ledger if m["from"] == SENDER]
    assert sorted(m["to"] for m in sent) == numbers  # each profile handed over exactly once
    accepted = await pool.fetch(
        "SELECT message_id, provider_sid FROM attempts"
        " WHERE operation_id = $1 AND provider_sid IS NOT NULL",
        key,
    )
    assert len({a["message_id"] for a in accepted}) == len(accepted) == KILLED_AUDIENCE
    assert {a["provider_sid"] for a in accepted} == {m["sid"] for m in sent}
    stats = (await operation(client, operation_id))["stats"]
    assert stats["recipients"] == stats["total"] == KILLED_AUDIENCE


async def test_queue_overflow_applies_across_pages(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, redis: Redis
) -> None:
    # 1 segment a second for 2 s of validity: room for two messages, whatever the page size.
    sender = "+15017122676"
    registered = await client.post(
        "/v1/Senders", json={"address": sender, "channel": "SMS", "mps": 1}
    )
    assert registered.status_code == 201, registered.text
    static = await static_audience_of_five(client, pool, tenant, 15558676500)
    operation_id = await send(
        client,
        [{"audienceId": static}],
        validityPeriod=2,
        **{"from": {"address": sender, "channel": "SMS"}},
    )
    key = ids.decode(ids.OPERATION, operation_id)
    assert key is not None
    await redis.flushdb()  # no dispatch job: the expansion alone
    assert await expansion.expand_operation(pool, key, clock=system_clock, page_size=2) == 5
    statuses = await pool.fetch(
        "SELECT status, error_code FROM messages WHERE operation_id = $1 ORDER BY position", key
    )
    assert [(s["status"], s["error_code"]) for s in statuses] == [
        ("QUEUED", None),
        ("QUEUED", None),
        *[("FAILED", error_codes.QUEUE_OVERFLOW.code)] * 3,
    ]


# Large sends: their recipients staged by the accept, made into messages by the expansion -----

STAGED = messages_logic.STAGED_CHUNK + messages_logic.STAGED_CHUNK // 4  # two chunks


def staged_numbers(first: int, count: int = STAGED) -> list[str]:
    return [f"+{first + n}" for n in range(count)]


async def staged_chunks(pool: asyncpg.Pool, key: Any) -> int:
    chunks: int = await pool.fetchval(
        "SELECT count(*) FROM operation_recipients WHERE operation_id = $1", key
    )
    return chunks


async def test_a_large_send_is_staged_then_made_into_one_message_per_recipient(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    redis: Redis,
) -> None:
    """The accept stores the recipients in chunks, not messages; each expansion page makes
    one chunk into messages (positions, variables and routes as an accept would), and the
    operation is PROCESSING, its total growing, until the last."""
    numbers = staged_numbers(15558900000)
    to = [
        {"address": number, "channel": "PHONE", "variables": {"n": str(index)}}
        for index, number in enumerate(numbers)
    ]
    operation_id = await send(client, to, content={"text": "hi {{ n }}"})
    key = ids.decode(ids.OPERATION, operation_id)
    assert key is not None
    await redis.flushdb()  # no dispatch job: the test expands a page at a time itself
    assert await staged_chunks(pool, key) == 2
    # Counted from the accept on: waiting (QUEUED, as their messages will be).
    accepted = await operation(client, operation_id)
    assert accepted["status"] == "PROCESSING"
    assert accepted["stats"]["total"] == accepted["stats"]["queued"] == STAGED
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE operation_id = $1", key) == 0

    first_page = await expansion.expand_operation(pool, key, clock=system_clock, max_pages=1)
    assert first_page == messages_logic.STAGED_CHUNK
    assert await staged_chunks(pool, key) == 1
    during = await operation(client, operation_id)
    assert during["status"] == "PROCESSING"
    assert during["stats"]["total"] == during["stats"]["queued"] == STAGED
    made = await pool.fetchval("SELECT count(*) FROM messages WHERE operation_id = $1", key)
    assert made == first_page

    rest = await expansion.expand_operation(pool, key, clock=system_clock)
    assert rest == STAGED - first_page
    assert await staged_chunks(pool, key) == 0
    await settle(sandbox, settings)
    done = await operation(client, operation_id)
    assert done["status"] == "COMPLETED"  # every message handed over
    assert done["stats"]["recipients"] == done["stats"]["total"] == STAGED
    rows = await pool.fetch(
        "SELECT position, address, variables FROM messages WHERE operation_id = $1", key
    )
    assert sorted(r["position"] for r in rows) == list(range(STAGED))
    assert all(numbers[r["position"]] == r["address"] for r in rows)
    assert all(r["variables"] == {"n": str(r["position"])} for r in rows)
    ledger = (await sandbox.get("/sandbox/messages")).json()["messages"]
    sent = {m["to"]: m["body"] for m in ledger if m["to"] in set(numbers)}
    assert len([m for m in ledger if m["to"] in set(numbers)]) == STAGED  # each once
    assert sent == {number: f"hi {index}" for index, number in enumerate(numbers)}


async def test_a_large_send_canceled_before_its_expansion_counts_every_recipient_canceled(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    redis: Redis,
) -> None:
    numbers = staged_numbers(15558910000)
    before = await send(client, numbers)
    between = await send(client, staged_numbers(15558920000))
    await redis.flushdb()  # no dispatch jobs: the test expands itself
    between_key = ids.decode(ids.OPERATION, between)
    assert between_key is not None
    made = await expansion.expand_operation(pool, between_key, clock=system_clock, max_pages=1)
    assert made == messages_logic.STAGED_CHUNK

    for operation_id in (before, between):
        canceled = await client.post(f"/v1/Messages/Operations/{operation_id}/Cancel")
        assert canceled.status_code == 202, canceled.text
        # Every recipient counts as canceled at once, made into a message yet or not.
        stats = (await operation(client, operation_id))["stats"]
        assert stats["total"] == stats["canceled"] == STAGED
    # The workers' periodic look for expansions (a dispatch would do it too) makes the rest,
    # canceled.
    assert await expansion.expand_pending(pool, clock=system_clock) == 2 * STAGED - made
    await settle(sandbox, settings)

    for operation_id in (before, between):
        done = await operation(client, operation_id)
        assert done["status"] == "CANCELED"
        assert done["stats"]["total"] == done["stats"]["canceled"] == STAGED
        key = ids.decode(ids.OPERATION, operation_id)
        assert await staged_chunks(pool, key) == 0
        assert not await pool.fetchval("SELECT expanding FROM operations WHERE id = $1", key)
    ledger = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert not {m["to"] for m in ledger} & set(numbers + staged_numbers(15558920000))
    again = await client.post(f"/v1/Messages/Operations/{before}/Cancel")
    assert again.status_code == 409


async def test_a_worker_killed_mid_staged_expansion_loses_and_repeats_nothing(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    pool: asyncpg.Pool,
    workers: WorkerProcesses,
) -> None:
    """Three chunks: the worker is killed waiting to make the second or third into messages;
    the next worker makes exactly the chunks left, and every recipient is sent once."""
    numbers = staged_numbers(15558930000, 2 * messages_logic.STAGED_CHUNK + 1)
    operation_id = await send(client, numbers, **{"from": {"address": SENDER, "channel": "SMS"}})
    key = ids.decode(ids.OPERATION, operation_id)
    worker = workers.start()

    async def first_chunk_in() -> bool:
        return await staged_chunks(pool, key) < 3

    await wait_for(first_chunk_in, "the first chunk of the expansion")
    async with killed_waiting_on_the_row(pool, worker) as conn:
        state = await conn.fetchrow(
            "SELECT expanding, (SELECT count(*) FROM messages WHERE operation_id = $1) AS made"
            " FROM operations WHERE id = $1 FOR UPDATE",
            key,
        )
        assert state["expanding"], "the expansion ended before the kill"
        assert 0 < state["made"] < len(numbers)

    workers.start()
    await wait_for(functools.partial(settled, pool, key), "the expansion and every send to finish")
    rows = await pool.fetch("SELECT address FROM messages WHERE operation_id = $1", key)
    assert sorted(r["address"] for r in rows) == sorted(numbers), workers.tail()
    ledger = (await sandbox.get("/sandbox/messages")).json()["messages"]
    sent = [m for m in ledger if m["to"] in set(numbers)]
    assert sorted(m["to"] for m in sent) == sorted(numbers)  # each handed over exactly once
    stats = (await operation(client, operation_id))["stats"]
    assert stats["recipients"] == stats["total"] == len(numbers)


async def test_a_large_scheduled_send_waits_as_scheduled_before_and_after_its_expansion(
    client: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    send_at = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    operation_id = await send(
        client,
        staged_numbers(15558940000),
        schedule={"sendAt": [send_at.isoformat().replace("+00:00", "Z")]},
    )
    key = ids.decode(ids.OPERATION, operation_id)
    assert key is not None
    await redis.flushdb()  # no dispatch job: the test expands itself
    for expanded in (False, True):
        if expanded:
            assert await expansion.expand_operation(pool, key, clock=system_clock) == STAGED
        got = await operation(client, operation_id)
        assert got["status"] == "SCHEDULED"
        assert got["stats"]["total"] == got["stats"]["scheduled"] == STAGED
    rows = await pool.fetch(
        "SELECT DISTINCT status, scheduled_for FROM messages WHERE operation_id = $1", key
    )
    assert [(r["status"], r["scheduled_for"]) for r in rows] == [("SCHEDULED", send_at)]
