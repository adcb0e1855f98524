"""SandboxSettings.from_env: defaults, parsing, and failing fast on malformed values."""

from __future__ import annotations

import pytest

from sandbox.settings import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    SandboxAccount,
    SandboxSettings,
)


def test_defaults() -> None:
    settings = SandboxSettings.from_env({})
    assert settings.host == "127.0.0.1"
    assert settings.port == 8010
    assert settings.accounts == (
        SandboxAccount(sid=DEFAULT_ACCOUNT_SID, auth_token=DEFAULT_AUTH_TOKEN),
    )
    assert DEFAULT_ACCOUNT_SID == "AC" + "a" * 32
    assert DEFAULT_AUTH_TOKEN == "sandbox-auth-token"
    assert settings.callback_delay_ms == 500
    assert settings.public_base_url is None
    assert (settings.rate_429, settings.rate_5xx, settings.latency_ms, settings.retry_after_s) == (
        0,
        0,
        0,
        0,
    )
    assert (settings.rate_lost, settings.lost_answer_ms) == (0, 30_000)
    assert settings.seed is None
    assert settings.default_mps is None
    assert settings == SandboxSettings()


def test_everything_from_the_environment() -> None:
    other = "AC" + "0123456789abcdef" * 2
    settings = SandboxSettings.from_env(
        {
            "SANDBOX_HOST": "0.0.0.0",
            "SANDBOX_PORT": "9000",
            "SANDBOX_ACCOUNTS": f"{DEFAULT_ACCOUNT_SID}:one, {other}:two",
            "SANDBOX_CALLBACK_DELAY_MS": "0",
            "SANDBOX_PUBLIC_URL": "https://sandbox.example/",
            "SANDBOX_RATE_429": "0.1",
            "SANDBOX_RATE_5XX": "0.05",
            "SANDBOX_RATE_LOST": "0.2",
            "SANDBOX_LOST_ANSWER_MS": "1500",
            "SANDBOX_LATENCY_MS": "20",
            "SANDBOX_RETRY_AFTER_S": "2",
            "SANDBOX_SEED": "7",
            "SANDBOX_DEFAULT_MPS": "0",
            "SANDBOX_CALLBACK_RETRIES_MS": "1,2,3",
            "SANDBOX_CALLBACK_TIMEOUT_S": "1.5",
            "SANDBOX_INBOUND_WEBHOOK_URL": "http://127.0.0.1:8000/inbound",
            "SANDBOX_CONVERSATIONS_WEBHOOK_URL": "http://127.0.0.1:8000/conversations",
        }
    )
    assert settings.host == "0.0.0.0"
    assert settings.port == 9000
    assert [a.sid for a in settings.accounts] == [DEFAULT_ACCOUNT_SID, other]
    assert settings.auth_token_for(other) == "two"
    assert settings.auth_token_for("AC" + "f" * 32) is None
    assert settings.callback_delay_ms == 0
    assert settings.base_url == "https://sandbox.example"
    assert (settings.rate_429, settings.rate_5xx, settings.latency_ms, settings.retry_after_s) == (
        0.1,
        0.05,
        20,
        2,
    )
    assert (settings.rate_lost, settings.lost_answer_ms) == (0.2, 1500)
    assert settings.seed == 7
    assert settings.default_mps == 0
    assert settings.callback_retry_delays_ms == (1, 2, 3)
    assert settings.callback_timeout_s == 1.5
    assert settings.inbound_webhook_url == "http://127.0.0.1:8000/inbound"
    assert settings.conversations_webhook_url == "http://127.0.0.1:8000/conversations"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SANDBOX_PORT", "eighty"),
        ("SANDBOX_PORT", "-1"),
        ("SANDBOX_ACCOUNTS", "ACnope:token"),
        ("SANDBOX_ACCOUNTS", f"{DEFAULT_ACCOUNT_SID}"),
        ("SANDBOX_RATE_429", "1.5"),
        ("SANDBOX_RATE_5XX", "lots"),
        ("SANDBOX_CALLBACK_RETRIES_MS", "1,x"),
        ("SANDBOX_DEFAULT_MPS", "-3"),
    ],
)
def test_malformed_values_fail_at_start(name: str, value: str) -> None:
    with pytest.raises(
        ValueError,
        match=name.removeprefix("SANDBOX_") if name != "SANDBOX_ACCOUNTS" else "SANDBOX_ACCOUNTS",
    ):
        SandboxSettings.from_env({name: value})
