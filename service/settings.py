"""Every setting, read once from the environment into one frozen value."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import msgspec

DEFAULT_PROVIDER_ACCOUNT_SID = "AC" + "a" * 32
DEFAULT_PROVIDER_AUTH_TOKEN = "sandbox-auth-token"
DEFAULT_DB_TIMEOUT_S = 5.0


class SettingsError(Exception):
    """A setting is missing or malformed."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    redis_url: str
    public_base_url: str = "http://127.0.0.1:8000"
    api_port: int = 8000
    environment: str = "development"
    # The provider (Twilio or the sandbox).
    provider_base_url: str = "http://127.0.0.1:8010"
    provider_account_sid: str = DEFAULT_PROVIDER_ACCOUNT_SID
    provider_auth_token: str = DEFAULT_PROVIDER_AUTH_TOKEN
    provider_timeout_s: float = 10.0
    provider_max_connections: int = 256
    provider_concurrency: int = 64
    # Where provider callbacks reach us; defaults to public_base_url.
    callback_base_url: str = ""
    max_body_bytes: int = 8 * 1024 * 1024
    # How long the API waits for a request's whole body once its headers are in (then 408).
    body_read_timeout_s: float = 60.0
    # Each account's API requests: this many a second on average, the burst at once (0: none).
    api_requests_per_second: float = 100.0
    api_request_burst: int = 200
    # Replaces the per-kind default rate of senders nobody registered (e.g. for the sandbox).
    unregistered_sender_mps: float | None = None
    # How far ahead (seconds of a sender's rate) a worker claims that sender's messages.
    claim_horizon_s: float = 2.0
    send_batch_size: int = 500
    claim_lease_s: int = 60
    # On SIGTERM a worker stops sending at once, then waits this long for its jobs to end.
    worker_shutdown_grace_s: int = 30
    retention_days: int = 7
    # Webhooks and statusCallbacks (ext): outbound calls to users' URLs.
    webhook_timeout_s: float = 10.0
    webhook_max_connections: int = 64
    webhook_concurrency: int = 16
    webhook_retry_hours: float = 24.0
    # How often an idle SSE stream looks for new events (it holds no connection meanwhile).
    sse_poll_interval_s: float = 0.5
    db_pool_min: int = 2
    db_pool_max: int = 20
    # How long a process waits on PostgreSQL (a connection, a statement) before giving up; the
    # API then answers 503 (20503). Every database timeout is derived from it (service/db.py).
    db_timeout_s: float = DEFAULT_DB_TIMEOUT_S
    log_format: str = "auto"  # auto | json | console
    log_level: str = "INFO"

    @property
    def callbacks_url(self) -> str:
        return (self.callback_base_url or self.public_base_url).rstrip("/")

    @property
    def webhook_loopback_allowed(self) -> bool:
        """Webhook URLs on loopback (and over http there) are allowed only in dev and test."""
        return self.environment in ("development", "test")

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


_ENV_NAMES: dict[str, str] = {name.upper(): name for name in Settings.__struct_fields__}


def load_settings(environ: Mapping[str, str], *, dev_root: Path | None = None) -> Settings:
    """Build Settings from environment variables named like the fields, upper-cased.

    When DATABASE_URL / REDIS_URL are unset and dev_root is given, the servers recorded under
    dev_root (started by `make run`) are used.
    """
    values: dict[str, object] = {}
    for env_name, field in _ENV_NAMES.items():
        if env_name in environ and environ[env_name] != "":
            values[field] = environ[env_name]
    if dev_root is not None:
        from service import devstack

        if "database_url" not in values:
            values["database_url"] = devstack.start_postgres(dev_root).url
        if "redis_url" not in values:
            values["redis_url"] = devstack.start_redis(dev_root).url
    for required in ("database_url", "redis_url"):
        if required not in values:
            raise SettingsError(f"{required.upper()} must be set")
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid setting: {exc}") from exc
