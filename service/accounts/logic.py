"""Accounts and keys: creating, listing, disabling, rotating and revoking them, and checking
credentials."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

import asyncpg
import msgspec

from service import ids
from service.accounts import store


class NewCredentials(msgspec.Struct, rename="camel"):
    """What the CLI prints once: the secret is not stored and cannot be shown again."""

    account_sid: str
    auth_token: str | None = None
    api_key_sid: str | None = None
    api_key_secret: str | None = None


class UnknownAccount(Exception):
    """No account has this sid."""


class UnknownApiKey(Exception):
    """No API key has this sid."""


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def create_account(pool: asyncpg.Pool, name: str) -> NewCredentials:
    sid, token = ids.account_sid(), ids.secret()
    await store.insert_account(pool, sid, name, hash_secret(token))
    return NewCredentials(account_sid=sid, auth_token=token)


async def create_api_key(pool: asyncpg.Pool, account_sid: str) -> NewCredentials:
    if not await store.account_exists(pool, account_sid):
        raise UnknownAccount(account_sid)
    sid, secret = ids.api_key_sid(), ids.secret()
    await store.insert_api_key(pool, sid, account_sid, hash_secret(secret))
    return NewCredentials(account_sid=account_sid, api_key_sid=sid, api_key_secret=secret)


async def list_accounts(pool: asyncpg.Pool) -> list[store.AccountListing]:
    return await store.list_accounts(pool)


async def set_account_disabled(
    pool: asyncpg.Pool, account_sid: str, disabled: bool
) -> store.AccountListing:
    """Disable an account (its token and every key stop authenticating; its data stays) or
    enable it again."""
    account = await store.set_account_disabled(pool, account_sid, disabled)
    if account is None:
        raise UnknownAccount(account_sid)
    return account


async def rotate_auth_token(pool: asyncpg.Pool, account_sid: str) -> NewCredentials:
    """A new auth token for the account; the old one stops authenticating at once."""
    token = ids.secret()
    if not await store.replace_auth_token(pool, account_sid, hash_secret(token)):
        raise UnknownAccount(account_sid)
    return NewCredentials(account_sid=account_sid, auth_token=token)


async def list_api_keys(
    pool: asyncpg.Pool, account_sid: str | None = None
) -> list[store.ApiKeyListing]:
    """Every key (revoked ones too), or one account's."""
    if account_sid is not None and not await store.account_exists(pool, account_sid):
        raise UnknownAccount(account_sid)
    return await store.list_api_keys(pool, account_sid)


async def revoke_api_key(pool: asyncpg.Pool, api_key_sid: str) -> store.ApiKeyListing:
    """The key stops authenticating at once; it stays listed, with the time it was revoked."""
    key = await store.revoke_api_key(pool, api_key_sid)
    if key is None:
        raise UnknownApiKey(api_key_sid)
    return key


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(username, password) from an HTTP Basic Authorization header."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):  # ValueError: non-ASCII text
        return None
    username, sep, password = decoded.partition(":")
    if not sep or not username or not password:
        return None
    return username, password


class CredentialCache:
    """Remembers verified credentials briefly, so a busy client costs no query per request.

    Keyed by the username and the hash of the secret: a wrong secret never matches an entry.
    On its own it would accept credentials disabled, rotated or revoked meanwhile for up to
    ttl_s; the API ties it to a CredentialWatcher (service/accounts/watcher.py), which empties it
    on every change PostgreSQL announces and switches it off while it cannot hear them.
    """

    def __init__(self, ttl_s: float = 30.0, max_entries: int = 10_000) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[tuple[str, bytes], tuple[str, float]] = {}
        self._enabled = True
        # Bumped by every forget_all: a lookup that began before a change stores nothing.
        self.generation = 0

    def get(self, username: str, digest: bytes) -> str | None:
        if not self._enabled:
            return None
        entry = self._entries.get((username, digest))
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(
        self, username: str, digest: bytes, account_sid: str, generation: int | None = None
    ) -> None:
        """Remember a verification; with `generation` (read before the lookup), only if no
        change was announced since."""
        if not self._enabled or generation not in (None, self.generation):
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[(username, digest)] = (account_sid, time.monotonic() + self._ttl)

    def forget_all(self) -> None:
        self._entries.clear()
        self.generation += 1

    def switch_off(self) -> None:
        """Cache nothing (every check goes to PostgreSQL) until switch_on."""
        self._enabled = False
        self.forget_all()

    def switch_on(self) -> None:
        self.forget_all()
        self._enabled = True


async def authenticate(
    pool: asyncpg.Pool, cache: CredentialCache, header: str | None
) -> str | None:
    """The account sid the Basic credentials belong to, or None."""
    credentials = parse_basic(header)
    if credentials is None:
        return None
    return await check_credentials(pool, cache, *credentials)


async def check_credentials(
    pool: asyncpg.Pool, cache: CredentialCache, username: str, password: str
) -> str | None:
    """The account sid an account SID + token or an API key SID + secret belong to, or None."""
    if len(username) != 34 or username[:2] not in ("AC", "SK"):
        return None
    # A sid is ASCII letters and digits: anything else (a NUL, which PostgreSQL refuses) is no
    # credential and must not reach the query.
    if not (username.isascii() and username.isalnum()):
        return None
    digest = hash_secret(password)
    cached = cache.get(username, digest)
    if cached is not None:
        return cached
    generation = cache.generation
    row = await store.credential_hash(pool, username)
    if row is None or not hmac.compare_digest(row.secret_hash, digest):
        return None
    cache.put(username, digest, row.account_sid, generation)
    return row.account_sid


async def stored_credential(pool: asyncpg.Pool, username: str) -> store.CredentialRow | None:
    """The account and secret hash an account SID or API key SID has now (None: no such one)."""
    if not (len(username) == 34 and username.isascii() and username.isalnum()):
        return None
    return await store.credential_hash(pool, username)
