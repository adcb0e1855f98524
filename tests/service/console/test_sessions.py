"""Console sessions: the signed cookie, its expiry and credential check, CSRF tokens, sealing."""

from __future__ import annotations

import pytest

from service.console import sessions
from service.settings import Settings, SettingsError

KEY = b"k" * 32
HASH = b"h" * 32


def opened(now_s: float = 1_000.0) -> tuple[sessions.Session, str]:
    return sessions.open_session(
        KEY, account_sid="AC" + "1" * 32, username="SK" + "2" * 32, secret_hash=HASH, now_s=now_s
    )


def test_a_cookie_reads_back_until_it_expires() -> None:
    session, cookie = opened()
    assert sessions.read_session(KEY, cookie, 1_001.0) == session
    assert sessions.read_session(KEY, cookie, 1_000.0 + sessions.SESSION_TTL_S) is None
    assert sessions.read_session(b"x" * 32, cookie, 1_001.0) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c.replace(".", "x.", 1),
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),
        lambda c: c.split(".")[0],
        lambda c: "",
        lambda c: "." * 2000,
    ],
)
def test_a_changed_cookie_is_no_session(tamper: object) -> None:
    _, cookie = opened()
    assert callable(tamper)
    assert sessions.read_session(KEY, tamper(cookie), 1_001.0) is None


def test_a_session_holds_only_while_its_credential_is_unchanged() -> None:
    session, _ = opened()
    assert sessions.same_credential(KEY, session, session.account_sid, HASH)
    assert not sessions.same_credential(KEY, session, session.account_sid, b"rotated" * 4)
    assert not sessions.same_credential(KEY, session, "AC" + "9" * 32, HASH)


def test_csrf_tokens_belong_to_one_session() -> None:
    first, _ = opened()
    second, _ = opened()
    token = sessions.csrf_token(KEY, first)
    assert sessions.csrf_matches(KEY, first, token)
    assert not sessions.csrf_matches(KEY, second, token)
    assert not sessions.csrf_matches(KEY, first, None)


def test_a_sealed_value_opens_only_in_its_session_and_unchanged() -> None:
    first, _ = opened()
    second, _ = opened()
    sealed = sessions.seal(KEY, first, "+15558675310")
    assert "5558675310" not in sealed
    assert sessions.unseal(KEY, first, sealed) == "+15558675310"
    assert sessions.unseal(KEY, second, sealed) is None
    middle = len(sealed) // 2
    changed = sealed[:middle] + ("B" if sealed[middle] == "A" else "A") + sealed[middle + 1 :]
    assert sessions.unseal(KEY, first, changed) is None
    assert sessions.unseal(KEY, first, sealed[:-1] + ("B" if sealed[-1] == "A" else "A")) is None
    assert sessions.unseal(KEY, first, "short") is None
    assert sessions.seal(KEY, first, "+15558675310") != sealed  # a fresh nonce each time


def test_the_key_needs_a_secret_in_production() -> None:
    base = Settings(database_url="x", redis_url="y", provider_auth_token="t")
    derived = sessions.console_key(base)
    assert derived == sessions.console_key(base), "every process derives the same key"
    production = Settings(database_url="x", redis_url="y", environment="production")
    with pytest.raises(SettingsError):
        sessions.console_key(production)
    chosen = Settings(
        database_url="x", redis_url="y", environment="production", console_session_secret="s"
    )
    assert sessions.console_key(chosen) not in (derived, b"")
