"""The rate each sender may send at: registered, else the default of its kind."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from service.senders import kinds, store

# A sender's queue holds at most this many seconds of its traffic (4 hours, as Twilio's):
# beyond it, or beyond the send's validity period when shorter, new messages fail with 30001.
MAX_QUEUE_S = 4 * 60 * 60


async def rates_for(
    conn: asyncpg.Pool | asyncpg.Connection,
    keys: Sequence[str],
    unregistered_mps: float | None = None,
) -> dict[str, float]:
    """Segments per second for each sender key (`<channel>:<address>`).

    unregistered_mps, when set, replaces the per-kind defaults of unregistered senders (an
    operator's setting, e.g. for a sandbox without carrier limits).
    """
    pairs = [kinds.split_key(key) for key in keys]
    registered = await store.registered_rates(conn, pairs)
    rates: dict[str, float] = {}
    for key, pair in zip(keys, pairs, strict=True):
        rate = registered.get(pair)
        if rate is None:
            rate = unregistered_mps or kinds.default_mps(pair[1], pair[0])
        rates[key] = rate
    return rates
