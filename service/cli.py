"""The `comms` command: migrations, accounts and keys, a send from the terminal, the settings
table, the OpenAPI document, the development stack.

Commands on the database (migrate, accounts, keys) use DATABASE_URL (or DATABASE_URL_FILE), else
the PostgreSQL of a running `make run` (found through the state files under .devdata/), and
otherwise stop with a message: they never start a database of their own. Commands through the
API (send, status) call a running API like any client. A failure prints one line on stderr and
exits with 1; no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import msgspec
from rich.console import Console
from rich.table import Table

from service import api_client, db, devstack, migrate, settings_docs
from service.accounts import logic as accounts
from service.settings import Settings, SettingsError, read_variable

ROOT = Path(__file__).resolve().parent.parent
DEV_ROOT = ROOT / ".devdata"
ENV_EXAMPLE = ROOT / ".env.example"
DEFAULT_API_URL = "http://127.0.0.1:8000"

T = TypeVar("T")


class CliError(Exception):
    """The command cannot go on; the message says why and what to do."""


# ------------------------------------------------------------------ the database


def database_url(environ: Mapping[str, str], dev_root: Path) -> str:
    """DATABASE_URL (or DATABASE_URL_FILE), else the running `make run` stack's PostgreSQL."""
    url = read_variable(environ, "database_url")
    if url:
        return url
    found = devstack.running_postgres_url(dev_root)
    if found:
        return found
    raise CliError(
        "no database: set DATABASE_URL (or DATABASE_URL_FILE), or start the development stack "
        f"with `make run` (no running PostgreSQL is recorded under {dev_root})"
    )


async def _on_database(url: str, action: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    pool = await db.create_pool(url, min_size=1, max_size=2)
    try:
        return await action(pool)
    finally:
        await pool.close()


def _run_on_database(url: str, action: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run action on a small pool, with the database's failures as CliErrors."""
    try:
        return asyncio.run(_on_database(url, action))
    except asyncpg.UndefinedTableError:
        raise CliError("the database has no comms tables: run `comms migrate` first") from None
    except asyncpg.InvalidCatalogNameError as exc:
        raise CliError(f"no such database ({exc})") from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise CliError(f"cannot use the database: {exc}") from None


async def _migrate(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return await migrate.apply(conn)
    finally:
        await conn.close()


# ------------------------------------------------------------------ output


def _print_credentials(creds: accounts.NewCredentials, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(msgspec.json.encode(creds).decode() + "\n")
        return
    for key, value in msgspec.to_builtins(creds).items():
        if value is not None:
            print(f"{key}: {value}")
    print("(the secret is shown only now; it is stored hashed)")


def _print_rows(rows: list[Any], columns: dict[str, str], as_json: bool) -> None:
    """Rows (Structs) as a JSON array (camelCase keys), or a table of the given columns."""
    if as_json:
        builtins = msgspec.to_builtins(rows)
        camel = [{_camel(k): v for k, v in row.items()} for row in builtins]
        sys.stdout.write(json.dumps(camel, indent=2) + "\n")
        return
    if not rows:
        print("(none)")
        return
    table = Table(box=None, pad_edge=False)
    for title in columns.values():
        table.add_column(title)
    for row in rows:
        values = [getattr(row, field) for field in columns]
        table.add_row(*(_cell(v) for v in values))
    Console(width=200).print(table)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return str(value)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


ACCOUNT_COLUMNS = {
    "sid": "SID",
    "name": "NAME",
    "created_at": "CREATED",
    "disabled_at": "DISABLED",
    "keys": "KEYS",
}
KEY_COLUMNS = {
    "sid": "SID",
    "account_sid": "ACCOUNT",
    "created_at": "CREATED",
    "revoked_at": "REVOKED",
}


# ------------------------------------------------------------------ the API (send, status)


def api_target(
    args: argparse.Namespace, environ: Mapping[str, str], dev_root: Path
) -> api_client.ApiTarget:
    """Where the API is and the credentials to call it with: flags, then COMMS_* variables,
    then the account `make run` created (its .devdata/dev-account.json)."""
    base_url = args.api_url or environ.get("COMMS_API_URL") or DEFAULT_API_URL
    pairs = (
        (args.account_sid, args.auth_token),
        (args.api_key, args.api_secret),
        (environ.get("COMMS_ACCOUNT_SID"), environ.get("COMMS_AUTH_TOKEN")),
        (environ.get("COMMS_API_KEY"), environ.get("COMMS_API_SECRET")),
    )
    for username, password in pairs:
        if username and password:
            return api_client.ApiTarget(base_url, username, password)
        if username or password:
            raise CliError("give an account SID with its auth token, or an API key with its secret")
    from service.devrun import ACCOUNT_FILE, read_account

    dev = read_account(dev_root / ACCOUNT_FILE)
    if dev is not None and dev.auth_token:
        return api_client.ApiTarget(base_url, dev.account_sid, dev.auth_token)
    raise CliError(
        "no credentials: set COMMS_ACCOUNT_SID and COMMS_AUTH_TOKEN (or COMMS_API_KEY and "
        "COMMS_API_SECRET), or pass --account-sid/--auth-token"
    )


def _send(args: argparse.Namespace, target: api_client.ApiTarget) -> int:
    console = Console(stderr=True)
    with target.client() as client:
        operation_id = api_client.send_text(
            client,
            to=args.to,
            text=args.text,
            sender=args.sender,
            channel=args.channel,
            idempotency_key=args.idempotency_key,
        )
        print(operation_id, flush=True)
        if args.no_follow:
            return 0
        operation = api_client.follow(
            client, operation_id, console, interval_s=args.interval, timeout_s=args.timeout
        )
    if operation is None:
        raise CliError(
            f"still waiting after {args.timeout:g} s; follow it with `comms status {operation_id}`"
        )
    console.print(api_client.describe(operation), highlight=False)
    failed = api_client.failed_count(operation)
    if failed:
        console.print(f"{failed} message(s) failed: `comms status {operation_id}`", highlight=False)
        return 1
    return 0


def _status(args: argparse.Namespace, target: api_client.ApiTarget) -> int:
    with target.client() as client:
        operation = api_client.fetch_operation(client, args.operation)
    if args.json:
        sys.stdout.write(json.dumps(operation, indent=2) + "\n")
    else:
        print(api_client.describe(operation))
    return 0


# ------------------------------------------------------------------ the parser


def _api_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("the API and credentials")
    group.add_argument(
        "--api-url", help=f"the API's base URL (COMMS_API_URL; default {DEFAULT_API_URL})"
    )
    group.add_argument("--account-sid", help="account SID (COMMS_ACCOUNT_SID)")
    group.add_argument("--auth-token", help="its auth token (COMMS_AUTH_TOKEN)")
    group.add_argument("--api-key", help="or an API key SID (COMMS_API_KEY)")
    group.add_argument("--api-secret", help="with its secret (COMMS_API_SECRET)")
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="comms",
        description="Administer and try the comms service.",
        epilog="Without credentials, send and status use the account `make run` created.",
    )
    parser.add_argument(
        "--dev-data",
        type=Path,
        default=DEV_ROOT,
        metavar="DIR",
        help="the development stack's folder: where `run` keeps its servers and where the "
        "database commands look for a running one (default: .devdata next to the code)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("migrate", help="apply database migrations")

    acc = commands.add_parser("accounts", help="list, create, disable, enable, rotate-token")
    acc_cmd = acc.add_subparsers(dest="action", metavar="ACTION")
    listed = acc_cmd.add_parser("list", help="every account, with its number of keys not revoked")
    listed.add_argument("--json", action="store_true")
    create = acc_cmd.add_parser("create", help="create an account and print its token once")
    create.add_argument("--name", required=True)
    create.add_argument("--json", action="store_true")
    disable = acc_cmd.add_parser(
        "disable", help="its token and every key stop authenticating; its data stays"
    )
    disable.add_argument("account_sid", metavar="ACCOUNT_SID")
    enable = acc_cmd.add_parser("enable", help="undo disable")
    enable.add_argument("account_sid", metavar="ACCOUNT_SID")
    rotate = acc_cmd.add_parser(
        "rotate-token", help="a new auth token, printed once; the old one stops working"
    )
    rotate.add_argument("account_sid", metavar="ACCOUNT_SID")
    rotate.add_argument("--json", action="store_true")

    keys = commands.add_parser("keys", help="list, create, revoke API keys")
    keys_cmd = keys.add_subparsers(dest="action", metavar="ACTION")
    key_list = keys_cmd.add_parser("list", help="API keys (revoked ones too)")
    key_list.add_argument("--account", help="only this account's")
    key_list.add_argument("--json", action="store_true")
    key_create = keys_cmd.add_parser("create", help="create an API key and print its secret once")
    key_create.add_argument("--account", required=True)
    key_create.add_argument("--json", action="store_true")
    revoke = keys_cmd.add_parser("revoke", help="the key stops authenticating")
    revoke.add_argument("api_key_sid", metavar="API_KEY_SID")

    api = _api_options()
    send = commands.add_parser(
        "send",
        parents=[api],
        help="send a text through the running API and follow it",
        description="Send one text through the running API, then follow the operation with a "
        "progress bar until no message waits any more (exit 1 when some failed).",
    )
    send.add_argument("--to", action="append", required=True, help="recipient (repeatable)")
    send.add_argument("--text", required=True)
    send.add_argument(
        "--from", dest="sender", help="sender address (default: the account's default pool)"
    )
    send.add_argument("--channel", choices=("sms", "whatsapp"), default="sms")
    send.add_argument("--idempotency-key")
    send.add_argument("--no-follow", action="store_true", help="print the operation id only")
    send.add_argument("--interval", type=float, default=0.5, help="seconds between looks")
    send.add_argument("--timeout", type=float, default=300.0, help="seconds to follow at most")
    status = commands.add_parser("status", parents=[api], help="an operation's status and counts")
    status.add_argument("operation", metavar="OPERATION_ID")
    status.add_argument("--json", action="store_true")

    table = commands.add_parser("settings", help="every setting with its default")
    table.add_argument(
        "--markdown", action="store_true", help="the Markdown table the README holds"
    )
    table.add_argument("--write", type=Path, metavar="FILE", help="replace the table in FILE")

    spec = commands.add_parser("openapi", help="write the OpenAPI document")
    spec.add_argument("--out", default=str(ROOT / "openapi" / "openapi.json"))
    commands.add_parser("run", help="start the whole stack for development (make run)")
    serve = commands.add_parser(
        "serve",
        help="serve the API under granian: several processes sharing their metrics (production)",
    )
    # A container's API listens on every interface of its own network namespace.
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")  # noqa: S104
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=2, help="server processes (default: 2)")
    return parser


def openapi_document() -> str:
    """The app's OpenAPI document as stable, sorted JSON text (what openapi/ holds)."""
    from litestar.serialization import encode_json

    from service.app import create_app

    app = create_app(Settings(database_url="postgresql://unused", redis_url="redis://unused"))
    schema = json.loads(encode_json(app.openapi_schema.to_schema()))
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_openapi(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(openapi_document())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args, os.environ)
    except (CliError, SettingsError, api_client.ApiCallFailed) as exc:
        print(f"comms: {exc}", file=sys.stderr)
        return 1
    except (accounts.UnknownAccount, accounts.UnknownApiKey) as exc:
        kind = "account" if isinstance(exc, accounts.UnknownAccount) else "API key"
        print(f"comms: no {kind} {exc}", file=sys.stderr)
        return 1
    except devstack.DevServersMissing as exc:
        print(f"comms: {exc}", file=sys.stderr)
        return 1


def _dispatch(
    parser: argparse.ArgumentParser, args: argparse.Namespace, environ: Mapping[str, str]
) -> int:
    dev_root: Path = args.dev_data
    if args.command is None:
        parser.print_help()
        return 0
    if args.command in ("accounts", "keys") and args.action is None:
        parser.parse_args([args.command, "--help"])  # prints the group's help, exits 0
    if args.command == "openapi":
        write_openapi(Path(args.out))
        print(f"wrote {args.out}")
        return 0
    if args.command == "settings":
        return _settings_table(args)
    if args.command == "run":
        from service.devrun import run

        return run(dev_root)
    if args.command == "serve":
        from service.serve import serve

        serve(environ, host=args.host, port=args.port, workers=args.workers)
    if args.command in ("send", "status"):
        target = api_target(args, environ, dev_root)
        return _send(args, target) if args.command == "send" else _status(args, target)

    url = database_url(environ, dev_root)
    if args.command == "migrate":
        try:
            applied = asyncio.run(_migrate(url))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise CliError(f"cannot migrate the database: {exc}") from None
        print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
        return 0
    if args.command == "accounts":
        return _accounts(args, url)
    return _keys(args, url)


def _accounts(args: argparse.Namespace, url: str) -> int:
    if args.action == "list":
        _print_rows(_run_on_database(url, accounts.list_accounts), ACCOUNT_COLUMNS, args.json)
    elif args.action == "create":
        name = args.name

        async def create(pool: asyncpg.Pool) -> accounts.NewCredentials:
            return await accounts.create_account(pool, name)

        _print_credentials(_run_on_database(url, create), args.json)
    elif args.action in ("disable", "enable"):
        sid, disabled = args.account_sid, args.action == "disable"

        async def toggle(pool: asyncpg.Pool) -> object:
            return await accounts.set_account_disabled(pool, sid, disabled)

        _run_on_database(url, toggle)
        print(f"{sid} {'disabled' if disabled else 'enabled'}")
    else:  # rotate-token
        rotated = args.account_sid

        async def rotate(pool: asyncpg.Pool) -> accounts.NewCredentials:
            return await accounts.rotate_auth_token(pool, rotated)

        _print_credentials(_run_on_database(url, rotate), args.json)
    return 0


def _keys(args: argparse.Namespace, url: str) -> int:
    if args.action == "list":
        account = args.account

        async def listing(pool: asyncpg.Pool) -> list[Any]:
            return list(await accounts.list_api_keys(pool, account))

        _print_rows(_run_on_database(url, listing), KEY_COLUMNS, args.json)
    elif args.action == "create":
        owner = args.account

        async def create(pool: asyncpg.Pool) -> accounts.NewCredentials:
            return await accounts.create_api_key(pool, owner)

        _print_credentials(_run_on_database(url, create), args.json)
    else:  # revoke
        key = args.api_key_sid

        async def revoke(pool: asyncpg.Pool) -> object:
            return await accounts.revoke_api_key(pool, key)

        _run_on_database(url, revoke)
        print(f"{key} revoked")
    return 0


def _settings_table(args: argparse.Namespace) -> int:
    try:
        env_example = ENV_EXAMPLE.read_text()
    except FileNotFoundError:
        raise CliError(f"{ENV_EXAMPLE} is missing: it describes every setting") from None
    try:
        table = settings_docs.markdown_table(env_example)
        if args.write is not None:
            document = args.write.read_text()
            args.write.write_text(settings_docs.replace_table(document, table))
            print(f"wrote the settings table in {args.write}")
            return 0
    except settings_docs.MissingDescription as exc:
        raise CliError(f"{exc}") from None
    if args.markdown:
        sys.stdout.write(table)
        return 0
    table_view = Table(box=None, pad_edge=False)
    for title in ("VARIABLE", "DEFAULT", "WHAT IT DOES"):
        table_view.add_column(title, overflow="fold")
    for doc in settings_docs.setting_docs(env_example):
        table_view.add_row(doc.variable, doc.default.strip("`"), doc.description)
    Console().print(table_view, highlight=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
