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
    # Profiles a worker makes into messages per transaction when it expands a send's audiences.
    expansion_page_size: int = 2000
    claim_lease_s: int = 60
    # On SIGTERM a worker stops sending at once, then waits this long for its jobs to end.
    worker_shutdown_grace_s: int = 30
    retention_days: int = 7
    # Webhooks and statusCallbacks (ext): outbound calls to users' URLs.
    webhook_timeout_s: float = 10.0
    webhook_max_connections: int = 64
    webhook_concurrency: int = 16
    webhook_retry_hours: float = 24.0
    # How often the API process's event feed (what its SSE streams follow) looks for new events
    # while it is not listening for PostgreSQL's notifications of them.
    sse_poll_interval_s: float = 0.5
    db_pool_min: int = 2
    db_pool_max: int = 20
    # How long a process waits on PostgreSQL (a connection, a statement) before giving up; the
    # API then answers 503 (20503). Every database timeout is derived from it (service/db.py).
    db_timeout_s: float = DEFAULT_DB_TIMEOUT_S
    # Signs the operations console's session cookies (service/console/sessions.py); required in
    # production, derived from provider_auth_token elsewhere when empty.
    console_session_secret: str = ""
    log_format: str = "auto"  # auto | json | console
    log_level: str = "INFO"
    # Traces (service/tracing.py), by OpenTelemetry's standard variables: off unless an exporter
    # is set. otlp (HTTP/protobuf, e.g. http://collector:4318) | console | none.
    otel_traces_exporter: str | None = None
    # Setting either endpoint alone turns OTLP export on.
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    # The service name on the spans (default: comms-api, comms-worker).
    otel_service_name: str | None = None
    otel_sdk_disabled: bool = False
    # Prometheus multiprocess mode: a directory shared by the API's server processes (wiped at
    # container start); /metrics then adds up every process's metrics (service/metrics).
    prometheus_multiproc_dir: str | None = None

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


# Settings that hold credentials (URLs may carry a password): each may come from a file instead,
# NAME_FILE (a Docker or Kubernetes secret mounted read-only), whose content is used stripped.
SECRET_SETTINGS = ("database_url", "redis_url", "provider_auth_token", "console_session_secret")
# Where a missing secret and the sandbox's built-in account are allowed: make run and the tests.
DEVELOPMENT_ENVIRONMENTS = ("development", "test")
# Anywhere else, the API and the worker refuse to start unless each of these is set, and not to
# the sandbox's value.
REQUIRED_OUTSIDE_DEVELOPMENT = (
    "provider_account_sid",
    "provider_auth_token",
    "console_session_secret",
)
_SANDBOX_VALUES = {
    "provider_account_sid": DEFAULT_PROVIDER_ACCOUNT_SID,
    "provider_auth_token": DEFAULT_PROVIDER_AUTH_TOKEN,
}


def read_variable(environ: Mapping[str, str], field: str) -> str | None:
    """A setting's text from the environment: NAME, or for a secret the content of the file
    NAME_FILE names; None when neither is set (an empty value is unset)."""
    name = field.upper()
    value = environ.get(name, "")
    path = environ.get(f"{name}_FILE", "") if field in SECRET_SETTINGS else ""
    if value and path:
        raise SettingsError(f"set {name} or {name}_FILE, not both")
    if not path:
        return value or None
    try:
        content = Path(path).read_text().strip()
    except OSError as exc:
        raise SettingsError(f"{name}_FILE: cannot read {path} ({exc.strerror})") from None
    if not content:
        raise SettingsError(f"{name}_FILE: {path} is empty")
    return content


def unsafe_secrets(settings: Settings) -> list[str]:
    """Outside development and test: each secret that is missing or still the sandbox's."""
    if settings.environment in DEVELOPMENT_ENVIRONMENTS:
        return []
    problems = []
    for field in REQUIRED_OUTSIDE_DEVELOPMENT:
        value = getattr(settings, field)
        if not value:
            problems.append(f"{field.upper()} is missing")
        elif value == _SANDBOX_VALUES.get(field):
            problems.append(f"{field.upper()} is unset or the sandbox's value")
    return problems


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build Settings from environment variables named like the fields, upper-cased (secrets
    also from NAME_FILE), for the API and the worker.

    Outside development and test (ENVIRONMENT), a secret that is missing or still has the
    sandbox's value is refused (SettingsError): the process does not start.
    """
    values: dict[str, object] = {}
    for field in Settings.__struct_fields__:
        value = read_variable(environ, field)
        if value is not None:
            values[field] = value
    for required in ("database_url", "redis_url"):
        if required not in values:
            raise SettingsError(f"{required.upper()} (or {required.upper()}_FILE) must be set")
    try:
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid setting: {exc}") from exc
    problems = unsafe_secrets(settings)
    if problems:
        raise SettingsError(
            f"ENVIRONMENT={settings.environment} needs real secrets: "
            + "; ".join(problems)
            + " (set each, or NAME_FILE; sandbox values pass only with ENVIRONMENT=development"
            " or test)"
        )
    return settings
