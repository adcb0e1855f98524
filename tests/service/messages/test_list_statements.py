"""The message lists' queries are composed per shape of filters (store.list_statement): every
shape prepares against the migrated schema, and runs on the read pool's sessions, which plan
generically, read only and keep nothing between uses."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from service import db, sql
from service.messages import store
from service.pagination import Position
from tests.support.servers import Servers, clone_database, database_name, drop_databases

MOMENT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
OPTIONAL: dict[str, Any] = {
    "operation_id": uuid.UUID(int=7),
    "status": "FAILED",
    "channel": "PHONE",
    "address": "+15551230000",
    "tags": {"campaign": "c1"},
    "start_date": MOMENT,
    "end_date": MOMENT,
}


@pytest.fixture
async def reads(servers: Servers, template_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A read pool on a fresh copy of the migrated template."""
    url = await clone_database(servers.admin_url, template_url, f"comms_reads_{os.getpid()}")
    pool = await db.create_read_pool(url, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()
        await drop_databases(servers.admin_url, [database_name(url)])


def every_filter_combination() -> list[tuple[store.MessageFilters, Position | None]]:
    combinations = []
    for size in range(len(OPTIONAL) + 1):
        for names in itertools.combinations(OPTIONAL, size):
            filters = store.MessageFilters(**{name: OPTIONAL[name] for name in names})
            for after in (None, Position(MOMENT, uuid.UUID(int=9))):
                combinations.append((filters, after))
    return combinations


async def test_every_shape_of_filters_runs_on_the_read_pool(reads: asyncpg.Pool) -> None:
    """128 filter sets, each with and without a page position: all three query shapes with
    every condition they compose (an empty database: the query must run, not find)."""
    combinations = every_filter_combination()
    assert len(combinations) == 256
    texts = set()
    for filters, after in combinations:
        statement = store.list_statement("AC" + "0" * 32, filters, after, 51)
        assert "/*" not in statement.query  # every place filled
        texts.add(statement.query)
        assert await reads.fetch(statement.query, *statement.args) == []
    assert len(texts) > 100  # one text per shape: each is planned once, generically


async def test_the_read_pool_plans_generically_and_cannot_write(reads: asyncpg.Pool) -> None:
    async with reads.acquire() as conn:
        settings = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in ("plan_cache_mode", "enable_bitmapscan", "enable_sort")
        }
        assert settings == {
            "plan_cache_mode": "force_generic_plan",
            "enable_bitmapscan": "off",
            "enable_sort": "off",
        }
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await conn.execute("DELETE FROM operations")


async def test_a_read_connection_is_given_back_without_a_reset_but_never_mid_transaction(
    reads: asyncpg.Pool,
) -> None:
    """Nothing to reset (no settings, locks or LISTEN are ever taken on it), but a transaction
    left open is still rolled back by asyncpg before the connection is used again."""
    async with reads.acquire() as conn:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        transaction = conn.transaction(readonly=True)
        await transaction.start()
        begun = await conn.fetchval("SELECT now()")  # the transaction's start
    async with reads.acquire() as conn:
        assert await conn.fetchval("SELECT pg_backend_pid()") == backend  # the same session
        assert not conn.is_in_transaction()
        # A new transaction on the server: the open one was rolled back.
        assert await conn.fetchval("SELECT now()") != begun


def test_conditions_go_where_their_place_stands_numbered_after_the_query_own() -> None:
    where = sql.Conditions("account", 51)
    where.add("filters", f"status = {where.param('FAILED')}")
    at = where.param(MOMENT)
    where.add("filters", f"created_at <= {at}")
    where.add("operation filters", f"created_at <= {at}")
    query = "WHERE a = $1 /* filters */ LIMIT $2; WHERE b /* operation filters */"
    assert where.compose(query, "filters", "operation filters") == (
        "WHERE a = $1 AND status = $3 AND created_at <= $4 LIMIT $2; WHERE b AND created_at <= $4"
    )
    assert where.args == ["account", 51, "FAILED", MOMENT]
    with pytest.raises(ValueError, match="no /\\* dates \\*/"):
        where.compose(query, "dates")
