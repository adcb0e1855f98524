"""Forward-only migrations: numbered SQL files in migrations/, each applied once, in order.

Two processes starting at once serialise on an advisory lock; the second finds the work done.
A file runs in one transaction, unless lines `-- migrate:commit` split it into steps: each step
then commits on its own (a long read under a weak lock can come before the step that needs a
strong one), and the migration counts as applied with its last step. Every step of such a file
must be safe to run again: after a failure, the next run starts again at the first step.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# An arbitrary constant shared by every process that migrates this database.
_LOCK_KEY = 0x636F6D6D73  # "comms"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# A line that commits the steps of a migration before it (see the module docstring).
STEP_MARK = "-- migrate:commit"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def steps(self) -> list[str]:
        """The file's parts between `-- migrate:commit` lines (the whole file if none)."""
        steps: list[list[str]] = [[]]
        for line in self.sql.splitlines(keepends=True):
            if line.strip() == STEP_MARK:
                steps.append([])
            else:
                steps[-1].append(line)
        return ["".join(step) for step in steps]


class MigrationError(Exception):
    """The database's applied migrations disagree with the files."""


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file not named NNNN_name.sql: {path.name}")
        found.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a number")
    return found


async def apply(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not yet applied; return the names applied now."""
    migrations = discover(directory)
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer CONSTRAINT schema_migrations_pkey PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        done = {row["version"]: row for row in rows}
        for migration in migrations:
            row = done.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(f"{migration.name} changed after it was applied")
                continue
            *earlier, last = migration.steps
            for step in earlier:
                async with conn.transaction():
                    await conn.execute(step)
            async with conn.transaction():
                await conn.execute(last)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            applied_now.append(migration.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
