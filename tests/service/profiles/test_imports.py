"""Bulk profile imports: NDJSON and CSV streamed in, checked row by row, loaded by workers in
chunks; re-imports upsert by external id; a worker killed mid-import leaves no duplicates."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from service.profiles import imports
from service.settings import Settings
from tests.support.tenants import Tenant, other_tenant
from tests.support.workers import WorkerProcesses, run_worker

pytestmark = pytest.mark.own_stack

NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}


def number(i: int) -> str:
    return f"+1555{i:07d}"


async def start_import(client: httpx.AsyncClient, body: Any, headers: dict[str, str]) -> str:
    response = await client.post("/v1/Profiles/Import", content=body, headers=headers, timeout=300)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["id"].startswith("comms_profileimport_")
    assert accepted["status"] == "PROCESSING"
    assert response.headers["location"].endswith(f"/v1/Profiles/Imports/{accepted['id']}")
    import_id: str = accepted["id"]
    return import_id


async def fetch_import(client: httpx.AsyncClient, import_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/Profiles/Imports/{import_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 120) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def all_profiles(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"pageSize": 1000}
        if token:
            params["pageToken"] = token
        page = (await client.get("/v1/Profiles", params=params)).json()
        found += page["profiles"]
        token = page["pagination"]["next"]
        if not token:
            return found


async def test_ndjson_good_and_bad_rows(client: httpx.AsyncClient, settings: Settings) -> None:
    rows = [
        json.dumps(
            {
                "externalId": "a",
                "addresses": [{"address": number(1), "channel": "SMS"}],
                "attributes": {"n": 1},
                "timeZone": "Europe/Paris",
            }
        ),
        json.dumps({"addresses": [{"address": "12", "channel": "SMS"}]}),  # line 2: bad address
        "",  # line 3: blank, skipped
        "not json",  # line 4
        json.dumps({"attributes": {"deep": {"x": 1}}}),  # line 5
        json.dumps({"addresses": [{"address": number(2), "channel": "WHATSAPP"}]}),
        json.dumps({"timeZone": "Nowhere"}),  # line 7
        json.dumps({"externalId": "\u0000"}),  # line 8
        json.dumps([1, 2]),  # line 9
    ]
    import_id = await start_import(client, "\n".join(rows) + "\n", NDJSON)
    await run_worker(settings)
    done = await fetch_import(client, import_id)
    assert done["status"] == "COMPLETED"
    assert done["format"] == "NDJSON"
    assert (done["rowsRead"], done["rowsImported"], done["rowsFailed"]) == (8, 2, 6)
    errors = {e["row"]: (e["code"], e.get("context")) for e in done["errors"]}
    assert errors == {
        2: (21211, "$.addresses[0].address"),
        4: (90001, None),
        5: (90001, "$.attributes.deep"),
        7: (90001, "$.timeZone"),
        8: (90001, "$.externalId"),
        9: (90001, "$"),
    }
    assert [e["row"] for e in done["errors"]] == [2, 4, 5, 7, 8, 9]
    profiles = await all_profiles(client)
    by_external = {p["externalId"]: p for p in profiles}
    assert by_external["a"]["attributes"] == {"n": 1}
    assert by_external["a"]["timeZone"] == "Europe/Paris"
    assert by_external[None]["addresses"] == [{"address": number(2), "channel": "WHATSAPP"}]
    assert len(profiles) == 2


async def test_csv_columns_types_and_bad_rows(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = (
        "externalId,sms,whatsapp,timeZone,attributes.name,attributes.age:number,"
        "attributes.vip:boolean\r\n"
        f"c1,{number(1)},{number(1)},Europe/Paris,Ada,36,true\r\n"
        f',{number(2)},,,"Lovelace, Ada",1.5,FALSE\r\n'
        f'c3,{number(3)},,,"multi\nline",,\r\n'  # lines 4-5: one row
        f"c4,{number(4)},,,x,old,\r\n"  # line 6: not a number
        "c5,12,,,,,\r\n"  # line 7: bad address
        "c6,,,,,,maybe\r\n"  # line 8: not a boolean
        "c7,,,,,,,extra\r\n"  # line 9: too many cells
        f"c1,,,,,37,\r\n"  # line 10: upserts c1
    )
    import_id = await start_import(client, body.encode(), CSV)
    await run_worker(settings)
    done = await fetch_import(client, import_id)
    assert done["status"] == "COMPLETED", done
    assert (done["rowsRead"], done["rowsImported"], done["rowsFailed"]) == (8, 4, 4)
    assert [(e["row"], e["code"]) for e in done["errors"]] == [
        (6, 90001),
        (7, 21211),
        (8, 90001),
        (9, 90001),
    ]
    assert done["errors"][0]["context"] == "$.attributes.age"
    by_external = {p["externalId"]: p for p in await all_profiles(client)}
    assert set(by_external) == {"c1", None, "c3"}
    assert by_external["c1"]["addresses"] == [
        {"address": number(1), "channel": "SMS"},
        {"address": number(1), "channel": "WHATSAPP"},
    ]
    assert by_external["c1"]["attributes"] == {"name": "Ada", "age": 37, "vip": True}
    assert by_external[None]["attributes"] == {"name": "Lovelace, Ada", "age": 1.5, "vip": False}
    assert by_external["c3"]["attributes"] == {"name": "multi\nline"}


async def test_a_bad_request_stores_nothing(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    header = await client.post(
        "/v1/Profiles/Import", content=b"externalId,fax,attributes.\n1,2,3\n", headers=CSV
    )
    assert header.status_code == 400
    assert [e["context"] for e in header.json()["errors"]] == ["$.columns[1]", "$.columns[2]"]
    media = await client.post(
        "/v1/Profiles/Import", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert media.status_code == 415
    assert media.json()["errors"][0]["code"] == 90415
    empty = await client.post("/v1/Profiles/Import", content=b"\n\n", headers=NDJSON)
    assert empty.status_code == 400
    assert await pool.fetchval("SELECT count(*) FROM profile_imports") == 0


async def test_more_rows_than_allowed_is_a_413_and_stores_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    async def body() -> AsyncIterator[bytes]:
        line = b"{}\n"
        for _ in range(100):
            yield line * 10_001  # 1,000,100 rows in all

    response = await client.post("/v1/Profiles/Import", content=body(), headers=NDJSON, timeout=300)
    assert response.status_code == 413, response.text
    assert response.json()["errors"][0]["code"] == 90413
    assert await pool.fetchval("SELECT count(*) FROM profile_imports") == 0
    assert await pool.fetchval("SELECT count(*) FROM profile_import_rows") == 0


async def test_a_row_longer_than_the_limit_fails_alone(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    long_row = json.dumps({"attributes": {"k": "x" * (imports.MAX_ROW_BYTES + 10)}})
    body = f'{{"externalId": "before"}}\n{long_row}\n{{"externalId": "after"}}'
    import_id = await start_import(client, body, NDJSON)
    await run_worker(settings)
    done = await fetch_import(client, import_id)
    assert (done["rowsRead"], done["rowsImported"], done["rowsFailed"]) == (3, 2, 1)
    assert done["errors"][0]["row"] == 2
    assert {p["externalId"] for p in await all_profiles(client)} == {"before", "after"}


async def test_an_import_bigger_than_a_chunk_then_a_reimport_upserts(
    client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    count = imports.LOAD_CHUNK_ROWS * 2 + 123

    def body(plan: str) -> bytes:
        return b"".join(
            json.dumps(
                {
                    "externalId": f"e{i}",
                    "addresses": [{"address": number(i), "channel": "SMS"}],
                    "attributes": {"plan": plan, "i": i},
                }
            ).encode()
            + b"\n"
            for i in range(count)
        )

    first = await start_import(client, body("free"), NDJSON)
    await run_worker(settings)
    done = await fetch_import(client, first)
    assert (done["status"], done["rowsRead"], done["rowsImported"]) == ("COMPLETED", count, count)
    assert await pool.fetchval("SELECT count(*) FROM profile_import_rows") == 0

    again = await start_import(client, body("pro"), NDJSON)
    await run_worker(settings)
    done = await fetch_import(client, again)
    assert (done["status"], done["rowsImported"], done["rowsFailed"]) == ("COMPLETED", count, 0)
    profiles = await all_profiles(client)
    assert len(profiles) == count
    assert {p["attributes"]["plan"] for p in profiles} == {"pro"}
    assert len({p["externalId"] for p in profiles}) == count


async def test_only_the_first_errors_are_kept_and_all_bad_is_failed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = "\n".join(json.dumps({"timeZone": "Bad"}) for _ in range(250))
    import_id = await start_import(client, body, NDJSON)
    await run_worker(settings)
    done = await fetch_import(client, import_id)
    assert (done["status"], done["rowsFailed"], done["rowsImported"]) == ("FAILED", 250, 0)
    assert [e["row"] for e in done["errors"]] == list(range(1, 101))


async def test_imports_are_the_accounts_own(
    client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    import_id = await start_import(client, '{"externalId": "mine"}\n', NDJSON)
    await run_worker(settings)
    stranger = await other_tenant(pool)
    async with httpx.AsyncClient(base_url=settings.public_base_url, auth=stranger.auth) as theirs:
        assert (await theirs.get(f"/v1/Profiles/Imports/{import_id}")).status_code == 404
        assert (await theirs.get("/v1/Profiles")).json()["profiles"] == []
    assert len(await all_profiles(client)) == 1


async def test_a_worker_killed_mid_import_leaves_no_duplicates(
    client: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    count = imports.LOAD_CHUNK_ROWS * 30
    # Half the rows have an external id (upserted), half not (created): neither may double.
    body = b"".join(
        (
            json.dumps({"externalId": f"k{i}", "attributes": {"i": i}})
            if i % 2
            else json.dumps({"attributes": {"i": i}})
        ).encode()
        + b"\n"
        for i in range(count)
    )
    import_id = await start_import(client, body, NDJSON)
    processes = WorkerProcesses(settings, tmp_path / "worker.log")
    try:
        worker = processes.start()

        async def some_loaded() -> bool:
            return bool((await fetch_import(client, import_id))["rowsImported"] > 0)

        await wait_for(some_loaded, "the first chunks")
        worker.send_signal(signal.SIGKILL)
        await asyncio.to_thread(worker.wait, 30)
        halfway = await fetch_import(client, import_id)
        assert halfway["status"] == "PROCESSING", "the import ended before the worker was killed"
        assert 0 < halfway["rowsImported"] < count
        # What is loaded is exactly what left the staging table.
        staged = await pool.fetchval("SELECT count(*) FROM profile_import_rows")
        assert staged == count - halfway["rowsImported"]
        assert await pool.fetchval("SELECT count(*) FROM profiles") == halfway["rowsImported"]

        processes.start()

        async def completed() -> bool:
            return bool((await fetch_import(client, import_id))["status"] == "COMPLETED")

        await wait_for(completed, "the import to complete after the restart", timeout_s=300)
    finally:
        processes.kill_all()
    done = await fetch_import(client, import_id)
    assert (done["rowsRead"], done["rowsImported"], done["rowsFailed"]) == (count, count, 0)
    assert await pool.fetchval("SELECT count(*) FROM profiles") == count
    distinct = await pool.fetchval("SELECT count(DISTINCT attributes->'i') FROM profiles")
    assert distinct == count


async def test_a_client_that_goes_away_mid_upload_leaves_nothing(
    tenant: Tenant, settings: Settings, pool: asyncpg.Pool
) -> None:
    url = httpx.URL(settings.public_base_url)
    rows = b'{"attributes": {"a": 1}}\n' * (imports.STAGE_CHUNK_ROWS * 3)
    credentials = f"{tenant.account_sid}:{tenant.auth_token}".encode()
    authorization = "Basic " + base64.b64encode(credentials).decode()
    head = (
        f"POST /v1/Profiles/Import HTTP/1.1\r\nHost: {url.host}\r\n"
        f"Content-Type: application/x-ndjson\r\nAuthorization: {authorization}\r\n"
        f"Content-Length: {len(rows) * 10}\r\n\r\n"
    ).encode()
    _, writer = await asyncio.open_connection(url.host, url.port)
    staging = "SELECT count(*) FROM pg_locks WHERE relation = 'profile_import_rows'::regclass"
    try:
        writer.write(head + rows)
        await writer.drain()

        async def staging_began() -> bool:
            return bool(await pool.fetchval(staging) > 0)

        await wait_for(staging_began, "the first rows to be staged")
    finally:
        writer.close()

    async def rolled_back() -> bool:
        return bool(await pool.fetchval(staging) == 0)

    await wait_for(rolled_back, "the upload's transaction to end")
    assert await pool.fetchval("SELECT count(*) FROM profile_imports") == 0
    assert await pool.fetchval("SELECT count(*) FROM profile_import_rows") == 0
