"""The PostgreSQL pool: codecs, connection set-up and timeouts in one place.

Timeouts. A PostgreSQL that is slow, down, restarting or hung (every process stopped:
connections stay open, nothing answers) must not hold a request or a job: no wait on it lasts
longer than one budget, DB_TIMEOUT_S. asyncpg waits without end by default: for a free
connection (also inside `Pool.fetch` and the like), and for an answer. So the pool here waits at
most the budget for a
connection (opening one included); the server cancels a statement after three quarters of it
(`statement_timeout`: the connection stays usable), and the client stops waiting for an answer
after four fifths (`command_timeout`: for a server that does not even do that); the last fifth
is for giving the connection back, and one whose cancelled statement the server has not
acknowledged by then is dropped, to be replaced by a later acquire once the server answers.
`is_unavailable` says which errors mean "the database did not answer" (the API's 503), as
opposed to a fault of the request or of the code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import msgspec
import structlog

from service.settings import DEFAULT_DB_TIMEOUT_S

T = TypeVar("T")
log = structlog.get_logger(__name__)

_encoder = msgspec.json.Encoder()
DEADLOCK_TRIES = 3


def _encode_jsonb(value: Any) -> bytes:
    # Binary jsonb: a version byte, then the JSON text. (A text-format codec breaks COPY.)
    return b"\x01" + _encoder.encode(value)


def _decode_jsonb(data: bytes) -> Any:
    return msgspec.json.decode(data[1:])


async def init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        schema="pg_catalog",
        format="binary",
    )


class DbTimeouts(msgspec.Struct, frozen=True, kw_only=True):
    """The waits on PostgreSQL, all from one budget (see the module docstring)."""

    acquire_s: float  # for a free connection, opening one included
    statement_s: float  # a statement's run on the server (statement_timeout)
    answer_s: float  # for a statement's answer, in the client (command_timeout)
    release_s: float  # for giving a connection back (a reset, or a cancel's acknowledgement)

    @classmethod
    def within(cls, budget_s: float) -> DbTimeouts:
        return cls(
            acquire_s=budget_s,
            statement_s=budget_s * 0.75,
            answer_s=budget_s * 0.8,
            release_s=budget_s * 0.2,
        )


class TimedPool(asyncpg.Pool):  # type: ignore[misc]  # asyncpg ships no type information
    """asyncpg's pool, with default timeouts for taking and for giving back a connection."""

    __slots__ = ("_timeouts",)

    def __init__(self, dsn: str, *, timeouts: DbTimeouts, **options: Any) -> None:
        self._timeouts = timeouts
        super().__init__(dsn, **options)

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self._timeouts.acquire_s if timeout is None else timeout)

    async def release(
        self,
        connection: Any,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (asyncpg's signature)
    ) -> None:
        """Give a connection back; when it cannot be reset in time, asyncpg drops it instead.

        Never raises for that: the caller's work on the connection is over (committed, or
        failed with its own error), and a dropped connection is replaced by a later acquire.
        """
        try:
            await super().release(
                connection, timeout=self._timeouts.release_s if timeout is None else timeout
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("database connection dropped on release", error=repr(exc))


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 20,
    timeout_s: float = DEFAULT_DB_TIMEOUT_S,
    session: dict[str, str] | None = None,
    reset: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> asyncpg.Pool:
    """A pool whose every wait on PostgreSQL ends within timeout_s (see the module docstring).

    session: more settings for its sessions; reset: what a release does instead of asyncpg's
    reset query (asyncpg rolls back an open transaction first in any case).
    """
    timeouts = DbTimeouts.within(timeout_s)
    pool = TimedPool(
        dsn,
        timeouts=timeouts,
        min_size=min_size,
        max_size=max_size,
        # asyncpg.create_pool's defaults: it cannot build a subclass, so they are spelled out.
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        init=init_connection,
        timeout=timeouts.acquire_s,
        command_timeout=timeouts.answer_s,
        server_settings={
            "statement_timeout": str(round(timeouts.statement_s * 1000)),
            **(session or {}),
        },
        reset=reset,
    )
    await pool
    return pool


# The sessions of the read pool (create_read_pool): for reads of one shape per statement text,
# the message lists (composed per shape of filters: each filter given is a condition, none is an
# optional parameter) and an operation's stats. One generic plan per text serves every call:
# planning a custom plan over every day partition of messages cost 1 ms a list page, four times
# the page's execution. Neither bitmap scans nor sorts: every list shape has a plan that reads an
# index in list order from the page position and stops after the page, and this makes it the
# only plan, whatever the statistics say (a send of 10,000 messages just stored looks like a
# handful of rows to the planner, and a bitmap or a sort reads every match on every page). Read
# only, so nothing that writes can go through it.
READ_SESSION = {
    "plan_cache_mode": "force_generic_plan",
    "enable_bitmapscan": "off",
    "enable_sort": "off",
    "default_transaction_read_only": "on",
}


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A read connection's release: nothing to reset. asyncpg has already rolled back an open
    transaction, and these sessions take no locks, LISTEN, cursors or settings, so asyncpg's
    reset (a round trip on every release) would change nothing."""


async def create_read_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 20,
    timeout_s: float = DEFAULT_DB_TIMEOUT_S,
) -> asyncpg.Pool:
    """A pool for the reads of READ_SESSION: generic plans, no bitmaps, no sorts, read only,
    nothing reset on release (a read is one round trip)."""
    return await create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout_s=timeout_s,
        session=READ_SESSION,
        reset=_keep_session,
    )


# Errors that mean PostgreSQL did not answer: down (refused, reset), restarting (08xxx, 57P0x),
# hung (TimeoutError), overloaded (53xxx, 57014 statement_timeout). TimeoutError is an OSError.
# InternalClientError: the server's last words on a connection it cuts (FATAL 57P01) put an
# idle asyncpg connection's protocol in an error state, and a query on it before the socket's
# end is seen fails with "cannot switch to state …; another operation is in progress".
_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.InternalClientError,
)
# asyncpg raises a plain InterfaceError, told apart only by its text, when a connection closed
# under it or is still cancelling a timed-out statement, and when the pool is closing.
_UNAVAILABLE_INTERFACE_ERRORS = ("connection is closed", "is cancelling", "pool is clos")
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (*_UNAVAILABLE, asyncpg.InterfaceError)


def is_unavailable(exc: BaseException) -> bool:
    """Whether an error (one of UNAVAILABLE_ERRORS) means the database did not answer."""
    if isinstance(exc, asyncpg.InterfaceError):
        return any(text in str(exc) for text in _UNAVAILABLE_INTERFACE_ERRORS)
    return isinstance(exc, _UNAVAILABLE)


async def plan_with_values(conn: asyncpg.Connection) -> None:
    """Plan this transaction's statements with their parameter values, never generically.

    For queries whose filters are optional parameters (`$2 IS NULL OR col = $2`): planned with
    the values, unused filters fold away and the right index is chosen; a generic plan (what a
    prepared statement may switch to after five calls) cannot fold them and would scan.
    """
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")


async def retry_deadlocks(transaction: Callable[[], Awaitable[T]]) -> T:
    """Run a transaction, again when PostgreSQL broke a deadlock by rolling it back.

    For transactions that lock many message rows while a worker's batch update may lock some
    of them in another order: the rolled-back try changed nothing, so trying again is safe.
    """
    for attempt in range(DEADLOCK_TRIES):
        try:
            return await transaction()
        except asyncpg.DeadlockDetectedError:
            if attempt + 1 == DEADLOCK_TRIES:
                raise
    raise AssertionError("unreachable")
