"""The migration runner: an empty database, twice at once, and edits refused."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import pytest

from service import migrate
from tests.support.servers import Servers, create_database


async def fresh(servers: Servers, suffix: str) -> str:
    return await create_database(servers.admin_url, f"comms_migr_{suffix}_{os.getpid()}")


async def test_applies_every_migration_to_an_empty_database(servers: Servers) -> None:
    url = await fresh(servers, "empty")
    conn = await asyncpg.connect(url)
    try:
        applied = await migrate.apply(conn)
        assert applied == [m.name for m in migrate.discover()]
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {
            "accounts",
            "api_keys",
            "operations",
            "messages",
            "attempts",
            "schema_migrations",
        } <= tables
        assert await migrate.apply(conn) == []
    finally:
        await conn.close()


async def test_two_runners_at_once_apply_each_migration_once(servers: Servers) -> None:
    url = await fresh(servers, "concurrent")
    first, second = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        results = await asyncio.gather(migrate.apply(first), migrate.apply(second))
        names = [m.name for m in migrate.discover()]
        assert sorted(results, key=len) == [[], names]
        count = await first.fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(names)
    finally:
        await first.close()
        await second.close()


async def test_an_edited_migration_is_refused(servers: Servers, tmp_path: Path) -> None:
    url = await fresh(servers, "edited")
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (a int);")
    conn = await asyncpg.connect(url)
    try:
        assert await migrate.apply(conn, tmp_path) == ["0001_first.sql"]
        (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (a bigint);")
        with pytest.raises(migrate.MigrationError):
            await migrate.apply(conn, tmp_path)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_applied(
    servers: Servers, tmp_path: Path
) -> None:
    url = await fresh(servers, "failing")
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok (a int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (a int); SELECT nonsense();")
    conn = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await migrate.apply(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 1
    finally:
        await conn.close()
