"""POST /v1/Messages/Operations/{id}/Cancel: what is canceled, what is not, and the race."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import msgspec
import pytest

from service import ids
from service.settings import Settings
from tests.support.api import send
from tests.support.tenants import other_tenant
from tests.support.workers import run_worker


def in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def sandbox_sends(sandbox: httpx.AsyncClient) -> list[dict[str, object]]:
    body = (await sandbox.get("/sandbox/messages")).json()
    sends: list[dict[str, object]] = body["messages"]
    return sends


async def statuses(client: httpx.AsyncClient, operation_id: str) -> list[str]:
    page = (
        await client.get("/v1/Messages", params={"operationId": operation_id, "pageSize": 1000})
    ).json()
    return [m["status"] for m in page["messages"]]


@pytest.mark.parametrize("scheduled", [True, False])
@pytest.mark.own_stack
async def test_cancel_before_the_worker_runs(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    scheduled: bool,
) -> None:
    extra = {"schedule": {"sendAt": [in_an_hour()]}} if scheduled else {}
    addresses = [f"+1555867{n:04d}" for n in range(3)]
    operation = await send(client, addresses, **extra)

    response = await client.post(f"/v1/Messages/Operations/{operation}/Cancel")
    assert response.status_code == 202, response.text
    location = f"{settings.public_base_url}/v1/Messages/Operations/{operation}"
    assert response.json() == {"resourceId": operation, "resourceLocation": location}
    assert response.headers["location"] == location

    assert await statuses(client, operation) == ["CANCELED"] * 3
    await run_worker(settings)
    sent_to = {s["to"] for s in await sandbox_sends(sandbox)}
    assert sent_to.isdisjoint(addresses), "the provider received none of them"
    fetched = (await client.get(location)).json()
    assert fetched["status"] == "CANCELED", "the worker does not overwrite CANCELED"
    assert fetched["stats"]["canceled"] == fetched["stats"]["total"] == 3
    assert fetched["stats"]["attempts"] == 0

    again = await client.post(f"/v1/Messages/Operations/{operation}/Cancel")
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == 30409


@pytest.mark.own_stack
async def test_cancel_after_completion_is_a_409(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    operation = await send(client, ["+15558675310", "+15005550001"])
    await run_worker(settings)
    response = await client.post(f"/v1/Messages/Operations/{operation}/Cancel")
    assert response.status_code == 409
    [error] = response.json()["errors"]
    assert error["code"] == 30409
    assert error["infoUrl"].endswith("/30409")
    fetched = (await client.get(f"/v1/Messages/Operations/{operation}")).json()
    assert fetched["status"] == "COMPLETED"
    assert "CANCELED" not in await statuses(client, operation)


async def test_cancel_of_an_unknown_or_foreign_operation_is_a_404(
    client: httpx.AsyncClient, api_url: str, pool: asyncpg.Pool
) -> None:
    operation = await send(client, ["+15558675310"], schedule={"sendAt": [in_an_hour()]})
    other = await other_tenant(pool)
    async with httpx.AsyncClient(base_url=api_url, auth=other.auth) as stranger:
        response = await stranger.post(f"/v1/Messages/Operations/{operation}/Cancel")
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == 20404
    assert await statuses(client, operation) == ["SCHEDULED"], "untouched"
    unknown = ids.encode(ids.OPERATION, ids.uuid7())
    for candidate in (unknown, "nonsense"):
        response = await client.post(f"/v1/Messages/Operations/{candidate}/Cancel")
        assert response.status_code == 404


async def test_cancel_is_served_under_preview(client: httpx.AsyncClient) -> None:
    operation = await send(client, ["+15558675310"], schedule={"sendAt": [in_an_hour()]})
    response = await client.post(f"/preview/Messages/Operations/{operation}/Cancel")
    assert response.status_code == 202


@pytest.mark.own_stack
async def test_cancel_racing_the_worker_never_cancels_a_sent_message(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    # Small batches: the cancel lands between (and inside) the worker's claims, marks and sends.
    small = msgspec.structs.replace(settings, send_batch_size=25)
    # No delivery receipts while the race runs: this test is about cancel against the dispatcher
    # (receipts racing the dispatcher's batch updates are the callbacks' tests' business).
    await sandbox.post("/sandbox/config", json={"callback_delay_ms": 3_600_000})
    outcomes = []
    # Cancel at once, then once the provider has some of the messages, then most of them.
    for round_, (size, wait_for) in enumerate(((60, 0), (200, 1), (400, 150))):
        addresses = [f"+1555{round_ + 3}{n:06d}" for n in range(size)]
        operation = await send(client, addresses)
        worker = asyncio.create_task(run_worker(small))
        ours = set(addresses)
        while wait_for and not worker.done():
            received = [s for s in await sandbox_sends(sandbox) if s["to"] in ours]
            if len(received) >= wait_for:
                break
        response = await client.post(f"/v1/Messages/Operations/{operation}/Cancel")
        await worker
        assert response.status_code in (202, 409), response.text
        await run_worker(small)  # whatever is still due: nothing may go out twice
        outcomes.append(await check_race_outcome(client, sandbox, pool, operation, addresses))
        if response.status_code == 409:
            assert outcomes[-1][0] == 0
    assert any(canceled for canceled, _ in outcomes), outcomes


async def check_race_outcome(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    pool: asyncpg.Pool,
    operation: str,
    addresses: list[str],
) -> tuple[int, int]:
    key = ids.decode(ids.OPERATION, operation)
    rows = await pool.fetch(
        """
        SELECT m.address, m.status, m.sending, a.provider_sid
        FROM messages m LEFT JOIN attempts a ON a.message_id = m.id
        WHERE m.operation_id = $1
        """,
        key,
    )
    canceled = [r for r in rows if r["status"] == "CANCELED"]
    assert not [r for r in canceled if r["provider_sid"] is not None], (
        "a canceled message reached the provider"
    )
    assert not [r for r in canceled if r["sending"]]
    handed_over = sorted(r["address"] for r in rows if r["status"] != "CANCELED")
    assert all(r["provider_sid"] for r in rows if r["status"] != "CANCELED")
    ours = set(addresses)
    received = sorted(str(s["to"]) for s in await sandbox_sends(sandbox) if s["to"] in ours)
    assert received == handed_over, "the provider got exactly the messages not canceled"
    assert len(canceled) + len(handed_over) == len(addresses)
    fetched = (await client.get(f"/v1/Messages/Operations/{operation}")).json()
    assert fetched["stats"]["canceled"] == len(canceled)
    if canceled:
        assert fetched["status"] == "CANCELED"
    return len(canceled), len(handed_over)
