"""The `comms` command through its real entry point, against the test servers.

`service.cli.main` runs its own event loop (asyncio.run), so the in-process tests are plain
synchronous tests; those that need the test's own event loop meanwhile (an API to call, a worker
to run) run the command as a subprocess instead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from service import cli, db, devstack, migrate, settings_docs
from service.accounts import logic as accounts
from service.cli import main
from service.settings import Settings
from tests.support.servers import ROOT, Servers, create_database
from tests.support.tenants import Tenant
from tests.support.workers import settle

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


# ---------------------------------------------------------------- no command, no database


def test_without_a_command_it_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: comms")
    for command in ("migrate", "accounts", "keys", "send", "status", "settings"):
        assert command in out


def test_a_group_without_an_action_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["keys"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: comms keys")
    assert "revoke" in out


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`comms …` as a process of its own, as a shell would run it."""
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def without_database(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "COMMS_"))}
    return {**env, **extra}


@pytest.mark.parametrize(
    "command",
    [["migrate"], ["accounts", "list"], ["accounts", "create", "--name", "x"], ["keys", "list"]],
)
def test_without_a_database_it_fails_clearly(command: list[str], tmp_path: Path) -> None:
    """No DATABASE_URL and no running `make run`: one line, exit 1, no database started."""
    done = run_cli("--dev-data", str(tmp_path), *command, env=without_database())
    assert done.returncode == 1
    assert done.stderr.startswith("comms: no database: set DATABASE_URL"), done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing started under the dev folder


def test_the_running_dev_stack_is_found_through_its_state_file(
    servers: Servers, tmp_path: Path
) -> None:
    port = urllib.parse.urlsplit(servers.admin_url).port
    assert port is not None
    # What `make run` leaves: the server's pid and port (this process stands in for the pid).
    (tmp_path / "pg.state").write_text(f"{os.getpid()} {port}")
    assert cli.database_url({}, tmp_path) == f"postgresql://postgres@127.0.0.1:{port}/postgres"
    # DATABASE_URL wins.
    assert cli.database_url({"DATABASE_URL": "postgresql://elsewhere/db"}, tmp_path) == (
        "postgresql://elsewhere/db"
    )
    # A server that is gone is not used.
    (tmp_path / "pg.state").write_text(f"{os.getpid()} {devstack.free_port()}")
    with pytest.raises(cli.CliError, match="no database"):
        cli.database_url({}, tmp_path)

    # Through the command: it reaches that server (whose admin database has no comms tables,
    # unless something migrated it).
    (tmp_path / "pg.state").write_text(f"{os.getpid()} {port}")
    done = run_cli("--dev-data", str(tmp_path), "accounts", "list", env=without_database())
    assert done.returncode == 0 or "run `comms migrate` first" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_an_unmigrated_database_says_to_migrate(
    monkeypatch: pytest.MonkeyPatch, empty_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database)
    assert main(["accounts", "list"]) == 1
    assert "the database has no comms tables: run `comms migrate` first" in capsys.readouterr().err


# ---------------------------------------------------------------- administering accounts and keys


def run_ok(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_accounts_list_disable_enable(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    created = run_json(capsys, ["accounts", "create", "--name", "cli-admin", "--json"])
    sid, token = created["accountSid"], created["authToken"]
    key = run_json(capsys, ["keys", "create", "--account", sid, "--json"])

    listed = json.loads(run_ok(capsys, ["accounts", "list", "--json"]))
    mine = next(a for a in listed if a["sid"] == sid)
    assert mine["name"] == "cli-admin"
    assert mine["disabledAt"] is None
    assert mine["keys"] == 1
    assert sid in run_ok(capsys, ["accounts", "list"])  # the table

    assert run_ok(capsys, ["accounts", "disable", sid]) == f"{sid} disabled\n"
    assert authenticated_as(cli_env.database_url, sid, token) is None
    assert authenticated_as(cli_env.database_url, key["apiKeySid"], key["apiKeySecret"]) is None
    listed = json.loads(run_ok(capsys, ["accounts", "list", "--json"]))
    assert next(a for a in listed if a["sid"] == sid)["disabledAt"] is not None

    assert run_ok(capsys, ["accounts", "enable", sid]) == f"{sid} enabled\n"
    assert authenticated_as(cli_env.database_url, sid, token) == sid


def test_accounts_rotate_token(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    created = run_json(capsys, ["accounts", "create", "--name", "cli-rotate", "--json"])
    sid = created["accountSid"]
    rotated = run_json(capsys, ["accounts", "rotate-token", sid, "--json"])
    assert rotated["accountSid"] == sid
    assert rotated["authToken"] != created["authToken"]
    assert authenticated_as(cli_env.database_url, sid, created["authToken"]) is None
    assert authenticated_as(cli_env.database_url, sid, rotated["authToken"]) == sid
    plain = run_ok(capsys, ["accounts", "rotate-token", sid])
    assert "shown only now" in plain


def test_keys_list_and_revoke(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    account = run_json(capsys, ["accounts", "create", "--name", "cli-revoke", "--json"])
    sid = account["accountSid"]
    first = run_json(capsys, ["keys", "create", "--account", sid, "--json"])
    second = run_json(capsys, ["keys", "create", "--account", sid, "--json"])

    assert run_ok(capsys, ["keys", "revoke", first["apiKeySid"]]) == (
        f"{first['apiKeySid']} revoked\n"
    )
    db_url = cli_env.database_url
    assert authenticated_as(db_url, first["apiKeySid"], first["apiKeySecret"]) is None
    assert authenticated_as(db_url, second["apiKeySid"], second["apiKeySecret"]) == sid

    keys = json.loads(run_ok(capsys, ["keys", "list", "--account", sid, "--json"]))
    revoked = {k["sid"]: k["revokedAt"] for k in keys}
    assert set(revoked) == {first["apiKeySid"], second["apiKeySid"]}
    assert revoked[first["apiKeySid"]] is not None
    assert revoked[second["apiKeySid"]] is None
    everyone = json.loads(run_ok(capsys, ["keys", "list", "--json"]))
    assert {first["apiKeySid"], second["apiKeySid"]} <= {k["sid"] for k in everyone}


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["accounts", "disable", "AC" + "0" * 32], "no account AC" + "0" * 32),
        (["accounts", "rotate-token", "AC" + "0" * 32], "no account AC" + "0" * 32),
        (["keys", "list", "--account", "AC" + "0" * 32], "no account AC" + "0" * 32),
        (["keys", "revoke", "SK" + "0" * 32], "no API key SK" + "0" * 32),
    ],
)
def test_unknown_sids_fail(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    assert main(argv) == 1
    assert capsys.readouterr().err == f"comms: {said}\n"


def test_settings_markdown_is_the_generated_table(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_ok(capsys, ["settings", "--markdown"])
    assert out == settings_docs.markdown_table((ROOT / ".env.example").read_text())
    assert "DATABASE_URL" in run_ok(capsys, ["settings"])


# ---------------------------------------------------------------- send and status, through the API


def api_env(api_url: str, tenant: Tenant) -> dict[str, str]:
    return without_database(
        COMMS_API_URL=api_url,
        COMMS_ACCOUNT_SID=tenant.account_sid,
        COMMS_AUTH_TOKEN=tenant.auth_token,
    )


async def cli_process(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.own_stack
async def test_send_follows_the_operation_until_it_completes(
    api_url: str, tenant: Tenant, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    env = api_env(api_url, tenant)
    sending = await cli_process(
        env, "send", "--to", "+15558675310", "--to", "+15558675311", "--from", "+15017122661",
        "--text", "hello from the terminal", "--interval", "0.05", "--timeout", "60",
    )  # fmt: skip
    communicating = asyncio.ensure_future(sending.communicate())
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 60
    while not communicating.done():  # a worker hands the messages over; the sandbox delivers
        assert loop.time() < give_up, "comms send did not finish"
        await settle(sandbox, settings)
        await asyncio.wait([communicating], timeout=0.05)
    stdout, stderr = communicating.result()
    assert sending.returncode == 0, stderr.decode()
    operation_id = stdout.decode().strip()
    assert operation_id.startswith("comms_operation_")
    report = stderr.decode()
    assert "status     COMPLETED" in report, report
    assert "2/2" in report, report  # the progress bar's last state

    status = await cli_process(env, "status", operation_id, "--json")
    out, err = await status.communicate()
    assert status.returncode == 0, err.decode()
    shown = json.loads(out)
    assert shown["id"] == operation_id
    assert shown["status"] == "COMPLETED"
    assert shown["stats"]["total"] == 2
    assert shown["stats"]["queued"] == 0
    plain = await cli_process(env, "status", operation_id)
    out, _ = await plain.communicate()
    assert f"operation  {operation_id}" in out.decode()


@pytest.mark.own_stack
async def test_send_exits_1_when_a_message_failed(
    api_url: str, tenant: Tenant, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    # +15005550001 as To: the provider refuses it (21211), the magic number of Twilio's tests.
    sending = await cli_process(
        api_env(api_url, tenant), "send", "--to", "+15005550001", "--from", "+15017122661",
        "--text", "hi", "--interval", "0.05", "--timeout", "60",
    )  # fmt: skip
    communicating = asyncio.ensure_future(sending.communicate())
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 60
    while not communicating.done():
        assert loop.time() < give_up, "comms send did not finish"
        await settle(sandbox, settings)
        await asyncio.wait([communicating], timeout=0.05)
    _, stderr = communicating.result()
    assert sending.returncode == 1
    assert "1 message(s) failed" in stderr.decode()


async def test_send_gives_up_after_its_timeout(api_url: str, tenant: Tenant) -> None:
    """The shared stack runs no worker: the message stays queued."""
    sending = await cli_process(
        api_env(api_url, tenant), "send", "--to", "+15558675310", "--text", "hi",
        "--from", "+15017122661", "--timeout", "0",
    )  # fmt: skip
    stdout, stderr = await sending.communicate()
    assert sending.returncode == 1
    operation_id = stdout.decode().strip()
    assert f"still waiting after 0 s; follow it with `comms status {operation_id}`" in (
        stderr.decode()
    )


async def test_send_reports_the_api_errors(api_url: str, tenant: Tenant) -> None:
    sending = await cli_process(
        api_env(api_url, tenant), "send", "--to", "not-a-number", "--text", "hi", "--no-follow"
    )
    _, stderr = await sending.communicate()
    assert sending.returncode == 1
    said = stderr.decode()
    assert said.startswith("comms: the API answered 400: "), said
    # Every problem the API found, each with its code and place.
    assert "21211 Invalid 'To' phone number (at $.to[0].address)" in said
    assert "(at $.from)" in said  # a tenant of the tests has no default pool


async def test_send_without_credentials_fails_clearly(api_url: str, tmp_path: Path) -> None:
    env = without_database(COMMS_API_URL=api_url)
    sending = await cli_process(
        env, "--dev-data", str(tmp_path), "send", "--to", "+1", "--text", "x"
    )
    _, stderr = await sending.communicate()
    assert sending.returncode == 1
    assert stderr.decode().startswith("comms: no credentials"), stderr.decode()


async def test_status_with_wrong_credentials(api_url: str, tenant: Tenant) -> None:
    env = {**api_env(api_url, tenant), "COMMS_AUTH_TOKEN": "wrong"}
    status = await cli_process(env, "status", "comms_operation_01m8h0jzqsechs3yv6kh2qxj5m")
    _, stderr = await status.communicate()
    assert status.returncode == 1
    assert stderr.decode().startswith("comms: the API answered 401: 20003"), stderr.decode()
