"""Every named query of every queries.sql under service/ prepares against the migrated schema:
a renamed column, a dropped table or a typo fails here, not on the first request that runs it."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from service import sql
from tests.support.servers import (
    ROOT,
    Servers,
    clone_database,
    database_name,
    drop_databases,
)

QUERY_FILES = sorted((ROOT / "service").rglob("queries.sql"))
NAME_LINE = re.compile(r"^-- name:\s*(\S+)", re.M)


def named_queries(path: Path) -> dict[str, str]:
    """The file's queries by name, as the service loads them (service.sql)."""
    queries = sql.Queries(path)
    return {name: getattr(queries, name) for name in NAME_LINE.findall(path.read_text())}


@pytest.fixture
async def migrated(servers: Servers, template_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a fresh copy of the migrated template."""
    url = await clone_database(servers.admin_url, template_url, f"comms_sql_{os.getpid()}")
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()
        await drop_databases(servers.admin_url, [database_name(url)])


def test_every_aggregate_keeps_named_queries() -> None:
    assert len(QUERY_FILES) >= 10, QUERY_FILES
    for path in QUERY_FILES:
        assert named_queries(path), f"{path.relative_to(ROOT)} has no `-- name:` query"


async def test_every_named_query_prepares_against_the_migrated_schema(
    migrated: asyncpg.Connection,
) -> None:
    failing: dict[str, str] = {}
    prepared = 0
    for path in QUERY_FILES:
        for name, query in named_queries(path).items():
            where = f"{path.parent.relative_to(ROOT)}:{name}"
            try:
                await migrated.prepare(query)
            except asyncpg.PostgresError as error:
                failing[where] = f"{type(error).__name__}: {error}"
            else:
                prepared += 1
    assert not failing, "queries that do not prepare:\n" + "\n".join(
        f"  {where}: {error}" for where, error in sorted(failing.items())
    )
    assert prepared > 0
