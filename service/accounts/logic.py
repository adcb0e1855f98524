"""Creating accounts and keys, and checking credentials."""

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
    """

    def __init__(self, ttl_s: float = 30.0, max_entries: int = 10_000) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[tuple[str, bytes], tuple[str, float]] = {}

    def get(self, username: str, digest: bytes) -> str | None:
        entry = self._entries.get((username, digest))
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, username: str, digest: bytes, account_sid: str) -> None:
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[(username, digest)] = (account_sid, time.monotonic() + self._ttl)


async def authenticate(
    pool: asyncpg.Pool, cache: CredentialCache, header: str | None
) -> str | None:
    """The account sid the Basic credentials belong to, or None."""
    credentials = parse_basic(header)
    if credentials is None:
        return None
    username, password = credentials
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
    row = await store.credential_hash(pool, username)
    if row is None or not hmac.compare_digest(row.secret_hash, digest):
        return None
    cache.put(username, digest, row.account_sid)
    return row.account_sid
