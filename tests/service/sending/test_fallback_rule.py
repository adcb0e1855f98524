"""The channel fallback rule exists once in Python (rules.has_next_route) and once in SQL
(has_next_route(), applied by the fall_back query): these tests hold the two together."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import pytest

from schemas.messages import MessageStatus
from service import ids
from service.accounts import logic as accounts
from service.messages import store as message_store
from service.sending import rules
from service.sending import store as sending_store
from service.sending.records import ClaimedMessage, Route
from service.sending.statuses import MESSAGE_STATUSES

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def routes_of(count: int) -> list[Route]:
    channels = ("SMS", "WHATSAPP", "SMS")
    return [
        Route(
            channel=channels[i],  # type: ignore[arg-type]
            from_=f"+1501712266{i}",
            to=f"+1555867531{i}",
            recipient_channel="PHONE" if channels[i] == "SMS" else "WHATSAPP",
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [0, 1, 2, 3])
async def test_the_sql_rule_is_the_python_rule(
    isolated: tuple[asyncpg.Pool, object], count: int
) -> None:
    pool, _ = isolated
    routes = routes_of(count) if count else None
    encoded = msgspec.json.encode(routes).decode() if routes is not None else None
    for index in range(-1, count + 1):
        in_sql = await pool.fetchval("SELECT has_next_route($1::text::jsonb, $2)", encoded, index)
        assert in_sql is rules.has_next_route(routes, index), (count, index)


async def _store_messages(
    pool: asyncpg.Pool, cases: Sequence[tuple[int, int, MessageStatus]]
) -> list[uuid.UUID]:
    """One message per (route count, route index, status), through the send's own store."""
    account_sid = (await accounts.create_account(pool, "fallback")).account_sid
    operation_id = ids.uuid7()
    records = []
    for position, (count, index, status) in enumerate(cases):
        routes = routes_of(count) if count else None
        route = routes[index] if routes else None
        records.append(
            message_store.MessageRecord(
                id=ids.uuid7(),
                operation_id=operation_id,
                account_sid=account_sid,
                position=position,
                channel=route.recipient_channel if route else "PHONE",
                address=route.to if route else "+15558675310",
                variables=None,
                status=status,
                scheduled_for=None,
                due_at=None,
                created_at=NOW,
                updated_at=NOW,
                sender_key=route.sender_key if route else "SMS:+15017122661",
                error_code=None,
                error_message=None,
                operation_tags={},
                routes=routes,
            )
        )
    async with pool.acquire() as conn, conn.transaction():
        await message_store.insert_operation(
            conn,
            operation_id=operation_id,
            account_sid=account_sid,
            status="PROCESSING",
            tags={},
            content={"text": "hi"},
            sender={"channel": "SMS", "address": "+15017122661"},
            validity_period=36_000,
            total=len(records),
            now=NOW,
        )
        await message_store.copy_messages(conn, records)
    # Route index as the cases say (a message moves along its routes after the accept).
    await pool.executemany(
        "UPDATE messages SET route_index = $2 WHERE id = $1",
        [(r.id, case[1]) for r, case in zip(records, cases, strict=True)],
    )
    return [r.id for r in records]


async def test_fall_back_moves_exactly_the_messages_the_rule_moves(
    isolated: tuple[asyncpg.Pool, object],
) -> None:
    pool, _ = isolated
    cases = [
        (count, index, status)
        for count in (0, 1, 2, 3)
        for index in range(max(count, 1))
        for status in MESSAGE_STATUSES
    ]
    message_ids = await _store_messages(pool, cases)
    due = NOW + timedelta(seconds=5)
    moved = await sending_store.fall_back(
        pool,
        [
            sending_store.FallBack(message_id, case[1], due)
            for message_id, case in zip(message_ids, cases, strict=True)
        ],
    )
    assert moved, "some case must fall back"
    for message_id, (count, index, status) in zip(message_ids, cases, strict=True):
        routes = routes_of(count) if count else None
        expected = status in ("QUEUED", "SENT") and rules.has_next_route(routes, index)
        assert (message_id in moved) is expected, (count, index, status)
        row = await pool.fetchrow("SELECT * FROM messages WHERE id = $1", message_id)
        if expected:
            assert routes is not None
            after = routes[index + 1]
            assert row["route_index"] == index + 1
            assert (row["channel"], row["address"]) == (after.recipient_channel, after.to)
            assert row["sender_key"] == after.sender_key
            assert (row["status"], row["due_at"], row["sending"]) == ("QUEUED", due, False)
        else:
            assert (row["route_index"], row["status"]) == (index, status)


async def test_fall_back_applies_only_from_the_route_it_names_and_under_its_claim(
    isolated: tuple[asyncpg.Pool, object],
) -> None:
    pool, _ = isolated
    first, second = await _store_messages(pool, [(3, 0, "QUEUED"), (3, 0, "QUEUED")])
    claim = uuid.uuid4()
    await pool.execute("UPDATE messages SET claim = $2 WHERE id = $1", first, claim)
    # Named from route 1 while it is on route 0 (another moved it first): nothing happens.
    assert await sending_store.fall_back(pool, [sending_store.FallBack(first, 1, NOW)]) == set()
    # Under another claim than the message's: nothing happens.
    assert (
        await sending_store.fall_back(
            pool,
            [sending_store.FallBack(second, 0, NOW)],
            claim=claim,
        )
        == set()
    )
    moved = await sending_store.fall_back(
        pool,
        [sending_store.FallBack(first, 0, NOW), sending_store.FallBack(second, 0, NOW)],
        claim=claim,
    )
    assert moved == {first}


@pytest.mark.parametrize(
    ("count", "suppressed_at"),
    list(itertools.product([1, 2, 3], [(), (0,), (0, 1), (0, 1, 2), (1,)])),
)
def test_the_dry_run_lands_where_the_workers_refusals_take_a_message(
    count: int, suppressed_at: tuple[int, ...]
) -> None:
    routes = routes_of(count)
    suppressed = {routes[i].to for i in suppressed_at if i < count}
    index, opted_out = rules.route_after_opt_outs(routes, suppressed)
    # The worker: claims the message on its route, refuses it there while it is opted out.
    message = ClaimedMessage(
        id=uuid.uuid4(),
        operation_id=uuid.uuid4(),
        account_sid="AC" + "0" * 32,
        channel="PHONE",
        address=routes[0].to,
        variables=None,
        scheduled_for=None,
        created_at=NOW,
        routes=routes,
    )
    ended = False
    while message.routes and message.routes[message.route_index].to in suppressed:
        outcome = rules.opted_out(message, NOW)
        if not outcome.advance:
            ended = outcome.ends_message
            break
        message = msgspec.structs.replace(message, route_index=outcome.route_index + 1)
    assert (index, opted_out) == (message.route_index, ended)
    reachable = [i for i, route in enumerate(routes) if route.to not in suppressed]
    assert index == (reachable[0] if reachable else count - 1)
