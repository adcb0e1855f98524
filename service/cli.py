"""The `comms` command: migrations, accounts and keys, the OpenAPI document, the dev stack."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

import asyncpg
import msgspec

from service import db, migrate
from service.accounts import logic as accounts
from service.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
DEV_ROOT = ROOT / ".devdata"


def _settings() -> Settings:
    # Without DATABASE_URL / REDIS_URL, use (or start) the embedded servers of `make run`.
    return load_settings(os.environ, dev_root=DEV_ROOT)


async def _migrate(settings: Settings) -> list[str]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await migrate.apply(conn)
    finally:
        await conn.close()


async def _with_pool(settings: Settings, action: str, arg: str) -> accounts.NewCredentials:
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        if action == "account":
            return await accounts.create_account(pool, arg)
        return await accounts.create_api_key(pool, arg)
    finally:
        await pool.close()


def _print_credentials(creds: accounts.NewCredentials, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(msgspec.json.encode(creds).decode() + "\n")
        return
    for key, value in msgspec.to_builtins(creds).items():
        if value is not None:
            print(f"{key}: {value}")
    print("(the secret is shown only now; it is stored hashed)")


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
    parser = argparse.ArgumentParser(prog="comms")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    acc = commands.add_parser("accounts", help="manage accounts")
    acc_cmd = acc.add_subparsers(dest="action", required=True)
    acc_create = acc_cmd.add_parser("create", help="create an account and print its token once")
    acc_create.add_argument("--name", required=True)
    acc_create.add_argument("--json", action="store_true")
    keys = commands.add_parser("keys", help="manage API keys")
    keys_cmd = keys.add_subparsers(dest="action", required=True)
    key_create = keys_cmd.add_parser("create", help="create an API key and print its secret once")
    key_create.add_argument("--account", required=True)
    key_create.add_argument("--json", action="store_true")
    spec = commands.add_parser("openapi", help="write the OpenAPI document")
    spec.add_argument("--out", default=str(ROOT / "openapi" / "openapi.json"))
    commands.add_parser("run", help="start the whole stack for development (make run)")
    args = parser.parse_args(argv)

    if args.command == "openapi":
        write_openapi(Path(args.out))
        print(f"wrote {args.out}")
        return 0
    if args.command == "run":
        from service.devrun import run

        return run(DEV_ROOT)
    settings = _settings()
    if args.command == "migrate":
        applied = asyncio.run(_migrate(settings))
        print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
        return 0
    if args.command == "accounts":
        creds = asyncio.run(_with_pool(settings, "account", args.name))
        _print_credentials(creds, args.json)
        return 0
    if args.command == "keys":
        try:
            creds = asyncio.run(_with_pool(settings, "key", args.account))
        except accounts.UnknownAccount:
            print(f"no account {args.account}", file=sys.stderr)
            return 1
        _print_credentials(creds, args.json)
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
