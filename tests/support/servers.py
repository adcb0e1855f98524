"""PostgreSQL and Redis for a test session, and the databases made on them.

The session migrates one template database; every other database is cloned from it (a copy
made by the server, far quicker than migrating again). Database names carry the pid of the
pytest process, so sessions running side by side on one server never meet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from service import devstack, migrate

ROOT = Path(__file__).resolve().parents[2]
DEV_ROOT = ROOT / ".devdata" / "test"

# The session's shared database (tests there stay apart by tenant) and per-test clones.
SHARED_DATABASE = f"comms_test_{os.getpid()}"
TEMPLATE_DATABASE = f"comms_template_{os.getpid()}"
OWN_DATABASE_PREFIX = f"comms_own_{os.getpid()}_"


@dataclass
class Servers:
    admin_url: str
    redis_url: str
    started: list[tuple[devstack.RunningServer, str]] = field(default_factory=list)


def start_servers() -> Servers:
    """PostgreSQL and Redis from DATABASE_URL / REDIS_URL when set, else embedded ones under
    .devdata/test (started, or found running: those are used and left running)."""
    admin_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    started: list[tuple[devstack.RunningServer, str]] = []
    if not admin_url:
        pg = devstack.start_postgres(DEV_ROOT)
        if pg.process is not None:
            started.append((pg, "pg"))
        admin_url = pg.url
    if not redis_url:
        rd = devstack.start_redis(DEV_ROOT)
        if rd.process is not None:
            started.append((rd, "redis"))
        redis_url = rd.url
    return Servers(admin_url, redis_url, started)


def stop_servers(servers: Servers) -> None:
    """Stop the servers this session started (not those it found running)."""
    for server, name in servers.started:
        devstack.stop(server, DEV_ROOT, name)


def database_url_for(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def database_name(url: str) -> str:
    return url.rpartition("/")[2].split("?")[0]


async def create_database(admin_url: str, name: str, *, template: str | None = None) -> str:
    """A new database (an empty one, or a copy of `template`), replacing one of that name."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        clause = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await conn.close()
    return database_url_for(admin_url, name)


async def drop_databases(admin_url: str, names: list[str]) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrated_database(admin_url: str, name: str) -> str:
    """A new database with every migration applied."""
    url = await create_database(admin_url, name)
    conn = await asyncpg.connect(url)
    try:
        await migrate.apply(conn)
    finally:
        await conn.close()
    return url


async def clone_database(admin_url: str, template_url: str, name: str) -> str:
    """A copy of the (migrated) template database, named `name`."""
    return await create_database(admin_url, name, template=database_name(template_url))
