"""Keeps an API process's credential cache true to PostgreSQL.

Triggers on accounts and api_keys (migrations/0014) send `comms_credentials_changed` at the
commit of any change to them: an account disabled or enabled, a token rotated, a key revoked,
by the CLI, the console or plain SQL. A connection of the watcher's own LISTENs to it and
empties the cache on each notification, so a disabled credential fails on the next request
instead of up to the cache's lifetime later.

While it is not listening (starting, or PostgreSQL gone), it switches the cache off: every
request then checks its credentials in PostgreSQL, so a change is never missed, only the cache's
savings. It listens again after a pause (RETRY_SCHEDULE_S) while PostgreSQL does not answer. A
connection lost without a word (a network partition: asyncpg's termination listener never
fires) would hear nothing; the cache's own lifetime (30 s) still bounds what it keeps then, as
it did before the watcher. No periodic query finds that out instead: it would add a root span
every few seconds to every API process's traces.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import asyncpg
import structlog

from service import db
from service.accounts.logic import CredentialCache
from service.backoff import delay_s

log = structlog.get_logger(__name__)

CHANNEL = "comms_credentials_changed"
# How its connection shows in pg_stat_activity.
APPLICATION = "comms credential watcher"
# Seconds before listening again, after each failure in a row (the last repeats).
RETRY_SCHEDULE_S = (0.5, 1.0, 2.0, 5.0)


class CredentialWatcher:
    def __init__(self, database_url: str, cache: CredentialCache, *, timeout_s: float) -> None:
        self._url = database_url
        self._cache = cache
        self._timeout_s = timeout_s
        self._task: asyncio.Task[None] | None = None
        self._rng = random.Random()  # noqa: S311 (jitter, not secrets)
        # Set each time it starts listening (tests wait for it).
        self.listening = asyncio.Event()

    def start(self) -> None:
        self._cache.switch_off()
        self._task = asyncio.create_task(self._run(), name="credential-watcher")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self._listen()
                log.warning("credential changes unheard: the listening connection was lost")
                failures = 1  # it listened until now: a new outage, already reported
            except (*db.UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
                failures += 1
                if failures == 1:
                    log.warning(
                        "credential changes unheard: checking every request in PostgreSQL",
                        error=repr(exc),
                    )
            await asyncio.sleep(
                delay_s(RETRY_SCHEDULE_S, max(failures, 1), None, (0.0, 0.0), self._rng)
            )

    async def _listen(self) -> None:
        """Listen until the connection is lost."""
        conn = await asyncpg.connect(
            self._url, timeout=self._timeout_s, server_settings={"application_name": APPLICATION}
        )
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(CHANNEL, self._changed)
            self._cache.switch_on()
            self.listening.set()
            await lost.wait()
        finally:
            self.listening.clear()
            self._cache.switch_off()
            conn.terminate()

    def _changed(self, *_: Any) -> None:
        self._cache.forget_all()
