"""The sandbox's one settings value, read from the environment once at start-up."""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

DEFAULT_ACCOUNT_SID = "AC" + "a" * 32
DEFAULT_AUTH_TOKEN = "sandbox-auth-token"

_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")


class SandboxAccount(msgspec.Struct, frozen=True):
    """An account the sandbox accepts: Basic auth is `sid:auth_token`."""

    sid: str
    auth_token: str


class SandboxSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the sandbox is configured with; only `from_env` reads the environment."""

    host: str = "127.0.0.1"
    port: int = 8010
    accounts: tuple[SandboxAccount, ...] = (
        SandboxAccount(sid=DEFAULT_ACCOUNT_SID, auth_token=DEFAULT_AUTH_TOKEN),
    )
    # Delay between the steps of a message's life (queued -> sent -> delivered ...).
    callback_delay_ms: int = 500
    # Base URL used in absolute `url` fields; None means "the URL the request came in on".
    public_base_url: str | None = None
    # Fault injection on creates (fractions in [0, 1]), and latency added to every API call.
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    latency_ms: int = 0
    retry_after_s: int = 0
    # Message creates carried out whose answer comes only after lost_answer_ms (a lost answer).
    rate_lost: float = 0.0
    lost_answer_ms: int = 30_000
    seed: int | None = None
    # Sender throughput: None = by number shape (long code 1 MPS, toll-free 3, short code 100,
    # ...); 0 = unlimited for every sender; any other value = that MPS for every sender.
    default_mps: float | None = None
    # Pauses before each retry of a webhook whose receiver is unreachable or answers 5xx.
    callback_retry_delays_ms: tuple[int, ...] = (200, 1000, 5000)
    callback_timeout_s: float = 5.0
    # Where simulated inbound messages and Conversations events are POSTed.
    inbound_webhook_url: str | None = None
    conversations_webhook_url: str | None = None

    @property
    def base_url(self) -> str | None:
        """The configured public base URL without a trailing slash."""
        return self.public_base_url.rstrip("/") if self.public_base_url else None

    def auth_token_for(self, account_sid: str) -> str | None:
        """The auth token of a configured account, or None."""
        for account in self.accounts:
            if account.sid == account_sid:
                return account.auth_token
        return None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SandboxSettings:
        """Read SANDBOX_* variables; a malformed value fails here, at start-up."""
        defaults = cls()
        get = environ.get
        return cls(
            host=get("SANDBOX_HOST", defaults.host),
            port=_int(environ, "SANDBOX_PORT", defaults.port),
            accounts=_accounts(get("SANDBOX_ACCOUNTS")) or defaults.accounts,
            callback_delay_ms=_int(
                environ, "SANDBOX_CALLBACK_DELAY_MS", defaults.callback_delay_ms
            ),
            public_base_url=get("SANDBOX_PUBLIC_URL") or None,
            rate_429=_fraction(environ, "SANDBOX_RATE_429"),
            rate_5xx=_fraction(environ, "SANDBOX_RATE_5XX"),
            rate_lost=_fraction(environ, "SANDBOX_RATE_LOST"),
            lost_answer_ms=_int(environ, "SANDBOX_LOST_ANSWER_MS", defaults.lost_answer_ms),
            latency_ms=_int(environ, "SANDBOX_LATENCY_MS", 0),
            retry_after_s=_int(environ, "SANDBOX_RETRY_AFTER_S", 0),
            seed=_int(environ, "SANDBOX_SEED", 0) if get("SANDBOX_SEED") else None,
            default_mps=_float(environ, "SANDBOX_DEFAULT_MPS")
            if get("SANDBOX_DEFAULT_MPS")
            else None,
            callback_retry_delays_ms=_int_list(environ, "SANDBOX_CALLBACK_RETRIES_MS")
            if get("SANDBOX_CALLBACK_RETRIES_MS") is not None
            else defaults.callback_retry_delays_ms,
            callback_timeout_s=_float(environ, "SANDBOX_CALLBACK_TIMEOUT_S")
            if get("SANDBOX_CALLBACK_TIMEOUT_S")
            else defaults.callback_timeout_s,
            inbound_webhook_url=get("SANDBOX_INBOUND_WEBHOOK_URL") or None,
            conversations_webhook_url=get("SANDBOX_CONVERSATIONS_WEBHOOK_URL") or None,
        )


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


def _float(environ: Mapping[str, str], name: str) -> float:
    raw = environ.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


def _fraction(environ: Mapping[str, str], name: str) -> float:
    if not environ.get(name):
        return 0.0
    value = _float(environ, name)
    if value > 1:
        raise ValueError(f"{name} is a fraction between 0 and 1, got {value}")
    return value


def _int_list(environ: Mapping[str, str], name: str) -> tuple[int, ...]:
    raw = environ.get(name, "")
    try:
        values = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{name} must be comma-separated integers, got {raw!r}") from None
    if any(value < 0 for value in values):
        raise ValueError(f"{name} must not hold negative values, got {raw!r}")
    return values


def _accounts(raw: str | None) -> tuple[SandboxAccount, ...]:
    if not raw:
        return ()
    accounts = []
    for pair in raw.split(","):
        sid, separator, token = pair.strip().partition(":")
        if not separator or not _ACCOUNT_SID.match(sid) or not token:
            raise ValueError(
                "SANDBOX_ACCOUNTS must be 'AC<32 hex>:token[,AC<32 hex>:token...]', "
                f"got entry {pair.strip()!r}"
            )
        accounts.append(SandboxAccount(sid=sid, auth_token=token))
    return tuple(accounts)
