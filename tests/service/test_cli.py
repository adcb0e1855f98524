"""The `comms` command through its real entry point, against the test servers.

`service.cli.main` runs its own event loop (asyncio.run), so the in-process tests are plain
synchronous tests; the one that calls the API runs the command as a subprocess instead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from service import db, migrate
from service.accounts import logic as accounts
from service.cli import main
from service.settings import Settings
from tests.support.servers import ROOT, Servers, create_database

ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
API_KEY_SID = re.compile(r"SK[0-9a-f]{32}")


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    """Point the command at the test database and Redis, as a shell's environment would."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    return settings


def authenticated_as(database_url: str, username: str, secret: str) -> str | None:
    """The account the credentials belong to, checked the way the API checks them."""
    header = "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()

    async def check() -> str | None:
        pool = await db.create_pool(database_url, min_size=1, max_size=1)
        try:
            return await accounts.authenticate(pool, accounts.CredentialCache(), header)
        finally:
            await pool.close()

    return asyncio.run(check())


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, str]:
    assert main(argv) == 0
    printed: dict[str, str] = json.loads(capsys.readouterr().out)
    return printed


def test_accounts_create_prints_working_credentials(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    created = run_json(capsys, ["accounts", "create", "--name", "cli-test", "--json"])
    assert ACCOUNT_SID.fullmatch(created["accountSid"])
    assert created["authToken"]
    sid, token = created["accountSid"], created["authToken"]
    assert authenticated_as(cli_env.database_url, sid, token) == sid
    assert authenticated_as(cli_env.database_url, sid, token + "x") is None


def test_accounts_create_without_json_says_the_secret_is_shown_once(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["accounts", "create", "--name", "cli-plain"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^accountSid: AC[0-9a-f]{32}$", out, re.M)
    assert re.search(r"^authToken: \S+$", out, re.M)
    assert "shown only now" in out


def test_keys_create_makes_a_key_of_the_account(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    account = run_json(capsys, ["accounts", "create", "--name", "cli-keys", "--json"])
    key = run_json(capsys, ["keys", "create", "--account", account["accountSid"], "--json"])
    assert key["accountSid"] == account["accountSid"]
    assert API_KEY_SID.fullmatch(key["apiKeySid"])
    assert key["apiKeySecret"]
    found = authenticated_as(cli_env.database_url, key["apiKeySid"], key["apiKeySecret"])
    assert found == account["accountSid"]


def test_keys_create_for_an_unknown_account_fails(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = "AC" + "0" * 32
    assert main(["keys", "create", "--account", unknown, "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"no account {unknown}" in captured.err


@pytest.fixture
def empty_database(servers: Servers) -> Iterator[str]:
    name = f"comms_cli_migrate_{os.getpid()}"
    url = asyncio.run(create_database(servers.admin_url, name))
    yield url

    async def drop() -> None:
        conn = await asyncpg.connect(servers.admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def test_migrate_applies_everything_once(
    monkeypatch: pytest.MonkeyPatch,
    servers: Servers,
    empty_database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database)
    monkeypatch.setenv("REDIS_URL", servers.redis_url)
    names = ", ".join(m.name for m in migrate.discover())

    assert main(["migrate"]) == 0
    assert capsys.readouterr().out == f"applied: {names}\n"
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out == "applied: nothing (up to date)\n"


def test_openapi_writes_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "openapi.json"
    assert main(["openapi", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["openapi"].startswith("3.")
    assert "/v1/Messages" in document["paths"]
    assert capsys.readouterr().out == f"wrote {out}\n"


async def test_created_account_calls_the_api(settings: Settings, api_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.cli",
        "accounts",
        "create",
        "--name",
        "cli-api",
        "--json",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    created = json.loads(stdout)

    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        auth = (created["accountSid"], created["authToken"])
        listed = await http.get("/v1/Messages", auth=auth)
        assert listed.status_code == 200, listed.text
        assert listed.json()["messages"] == []
        wrong = await http.get("/v1/Messages", auth=(created["accountSid"], "not-the-token"))
        assert wrong.status_code == 401
