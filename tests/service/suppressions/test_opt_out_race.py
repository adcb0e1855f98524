"""A STOP arriving while a worker sends to the same recipient: never both canceled and sent."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import msgspec
import pytest

from service import ids
from service.settings import Settings
from tests.support.api import operation, register_sender, send
from tests.support.provider import handset_says, sandbox_sends_to, unique_number
from tests.support.workers import run_worker

# Every test here runs a worker: each gets a database and API of its own.
pytestmark = pytest.mark.own_stack


async def test_stop_racing_the_worker_never_leaves_a_message_both_canceled_and_sent(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    # Small batches: the STOP lands between (and inside) the worker's claims, checks and sends.
    small = msgspec.structs.replace(settings, send_batch_size=25)
    # No receipts while the race runs (as in the cancel race test).
    await sandbox.post("/sandbox/config", json={"callback_delay_ms": 3_600_000})
    # The handset texts STOP to one of the account's numbers while it is sent to from another:
    # the sandbox's own opt-out (per number) never refuses these sends, only we do.
    stop_number, send_number = unique_number(), unique_number()
    await register_sender(client, stop_number)
    await register_sender(client, send_number)
    outcomes = []
    # STOP at once, then once the provider has some of the messages, then many of them.
    for size, wait_for in ((40, 0), (150, 1), (200, 80)):
        handset = unique_number()
        sent = await send(
            client, [handset] * size, **{"from": {"address": send_number, "channel": "SMS"}}
        )
        worker = asyncio.create_task(run_worker(small))
        while wait_for and not worker.done():
            if len(await sandbox_sends_to(sandbox, handset)) >= wait_for:
                break
        await handset_says(sandbox, handset, stop_number, "STOP")
        await worker
        await run_worker(small)  # whatever is still due: nothing may go out twice
        outcomes.append(await check_outcome(client, sandbox, pool, sent, handset, size))
    assert any(canceled + refused for canceled, refused, _ in outcomes), outcomes
    assert any(handed for _, _, handed in outcomes), outcomes


async def check_outcome(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    pool: asyncpg.Pool,
    operation_id: str,
    handset: str,
    size: int,
) -> tuple[int, int, int]:
    """(canceled, failed 21610 without a call, handed to the provider exactly once)."""
    rows = await pool.fetch(
        """
        SELECT m.id, m.status, m.sending, m.error_code,
               count(a.id) AS attempts, count(a.provider_sid) AS handed
        FROM messages m LEFT JOIN attempts a ON a.message_id = m.id
        WHERE m.operation_id = $1
        GROUP BY m.id
        """,
        ids.decode(ids.OPERATION, operation_id),
    )
    canceled = [r for r in rows if r["status"] == "CANCELED"]
    assert not [r for r in canceled if r["handed"] or r["sending"]], "canceled yet sent"
    refused = [r for r in rows if r["status"] == "FAILED"]
    assert all(r["error_code"] == 21610 and r["attempts"] == 0 for r in refused)
    handed = [r for r in rows if r["status"] not in ("CANCELED", "FAILED")]
    assert all(r["handed"] == 1 for r in handed)
    assert len(canceled) + len(refused) + len(handed) == size
    received = await sandbox_sends_to(sandbox, handset)
    assert len(received) == len(handed), "the provider got exactly the messages handed over"
    fetched = await operation(client, operation_id)
    assert fetched["status"] == "COMPLETED"
    assert fetched["stats"]["canceled"] == len(canceled)
    assert fetched["stats"]["failed"] == len(refused)
    assert fetched["stats"]["attempts"] == len(handed)
    return len(canceled), len(refused), len(handed)
