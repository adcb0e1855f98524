"""Keyset pages through rows that share one created_at (every message of a send has its
accept's): each page holds exactly the next rows in list order, none twice, none skipped, for
every shape of filters (an operation, status or channel, tags, none), also when two sends were
accepted at the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from service import ids
from tests.support.api import all_pages
from tests.support.factories import StoredMessage, insert_operation
from tests.support.tenants import Tenant, other_tenant


def _messages(count: int, offset: int) -> list[StoredMessage]:
    return [
        StoredMessage(
            "WHATSAPP" if n % 3 == 0 else "PHONE",
            f"+1555{offset + n:07d}",
            status="FAILED" if n % 4 == 0 else "DELIVERED",
        )
        for n in range(count)
    ]


class Ties:
    def __init__(self, rows: list[asyncpg.Record], a: str, b: str, moment: datetime) -> None:
        self.rows = rows  # the account's messages in list order
        self.a = a
        self.b = b
        self.moment = moment

    def expected(self, **filters: Any) -> list[str]:
        tags: dict[str, str] = filters.get("tags", {})
        out = []
        for row in self.rows:
            operation = ids.encode(ids.OPERATION, row["operation_id"])
            if filters.get("operation") not in (None, operation):
                continue
            if filters.get("status") not in (None, row["status"]):
                continue
            if filters.get("channel") not in (None, row["channel"]):
                continue
            if any(row["operation_tags"].get(k) != v for k, v in tags.items()):
                continue
            if "start" in filters and row["created_at"] < filters["start"]:
                continue
            out.append(ids.encode(ids.MESSAGE, row["id"]))
        return out


@pytest.fixture
async def ties(pool: asyncpg.Pool, tenant: Tenant) -> Ties:
    moment = datetime.now(UTC).replace(microsecond=123456) - timedelta(hours=1)
    # Two sends accepted at the same instant, one a minute before, one a minute after.
    a = await insert_operation(
        pool,
        tenant.account_sid,
        _messages(120, 0),
        now=moment,
        tags={"campaign": "tie", "wave": "1"},
    )
    b = await insert_operation(
        pool,
        tenant.account_sid,
        _messages(80, 1000),
        now=moment,
        tags={"campaign": "tie", "wave": "2"},
    )
    await insert_operation(
        pool,
        tenant.account_sid,
        _messages(30, 2000),
        now=moment - timedelta(minutes=1),
        tags={"campaign": "tie"},
    )
    await insert_operation(
        pool,
        tenant.account_sid,
        _messages(10, 3000),
        now=moment + timedelta(minutes=1),
        tags={"campaign": "other"},
    )
    # Another account's send at the same instant with the same tags never shows.
    other = await other_tenant(pool)
    await insert_operation(
        pool, other.account_sid, _messages(40, 4000), now=moment, tags={"campaign": "tie"}
    )
    rows = await pool.fetch(
        "SELECT id, operation_id, status, channel, operation_tags, created_at FROM messages "
        "WHERE account_sid = $1 ORDER BY created_at DESC, id DESC",
        tenant.account_sid,
    )
    assert len(rows) == 240
    return Ties(list(rows), a, b, moment)


def _cases(t: Ties) -> list[tuple[dict[str, str], list[str]]]:
    start = t.moment - timedelta(seconds=30)
    return [
        ({}, t.expected()),
        ({"operationId": t.a}, t.expected(operation=t.a)),
        ({"operationId": t.b, "status": "FAILED"}, t.expected(operation=t.b, status="FAILED")),
        ({"status": "FAILED"}, t.expected(status="FAILED")),
        ({"channel": "WHATSAPP"}, t.expected(channel="WHATSAPP")),
        ({"tags": "campaign:tie;"}, t.expected(tags={"campaign": "tie"})),
        ({"tags": "wave:2;"}, t.expected(tags={"wave": "2"})),
        (
            {"tags": "campaign:tie;", "startDate": start.isoformat()},
            t.expected(tags={"campaign": "tie"}, start=start),
        ),
        (
            {"tags": "campaign:tie;", "status": "DELIVERED"},
            t.expected(tags={"campaign": "tie"}, status="DELIVERED"),
        ),
    ]


@pytest.mark.parametrize("page_size", [7, 50])
async def test_pages_through_ties_hold_every_row_once_in_order(
    client: httpx.AsyncClient, ties: Ties, page_size: int
) -> None:
    for params, expected in _cases(ties):
        assert expected, params  # every case has rows to page through
        got = await all_pages(client, "/v1/Messages", "messages", {**params, "pageSize": page_size})
        assert [m["id"] for m in got] == expected, params


async def test_page_n_after_m_pages_is_exactly_the_next_rows(
    client: httpx.AsyncClient, ties: Ties
) -> None:
    """After 9 pages of 11 (most of them inside the tie), the 10th holds rows 100..110."""
    long_enough = [(p, e) for p, e in _cases(ties) if len(e) > 110]
    assert len(long_enough) >= 3
    for params, expected in long_enough:
        query: dict[str, Any] = {**params, "pageSize": 11}
        for _ in range(9):
            answer = await client.get("/v1/Messages", params=query)
            assert answer.status_code == 200, answer.text
            query["pageToken"] = answer.json()["pagination"]["next"]
        page = (await client.get("/v1/Messages", params=query)).json()["messages"]
        assert [m["id"] for m in page] == expected[99:110], params


async def test_search_pages_through_ties_the_same(client: httpx.AsyncClient, ties: Ties) -> None:
    got = await all_pages(
        client,
        "/v1/Messages/Search",
        "messages",
        {"pageSize": 13},
        json={"tags": {"campaign": "tie"}},
    )
    assert [m["id"] for m in got] == ties.expected(tags={"campaign": "tie"})
