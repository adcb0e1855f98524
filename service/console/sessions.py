"""Console sessions: a signed cookie naming the account, CSRF tokens bound to the session, and
sealed form values (a phone number a form sends back without the page showing it).

A session cookie is `<payload>.<mac>`: base64url JSON and its HMAC-SHA256 under the console key.
Besides the account it names the credential it was opened with (an account SID or an API key
SID) and a fingerprint of that credential's stored secret hash, so the console checks on every
request that the credential still exists and still has the same secret: a session never
outlives its credentials, and a forged payload needs the secret's hash as well as the key.

Sealing is encrypt-then-MAC with HMAC-SHA256 as the only primitive: the keystream is
HMAC(key, "seal" | nonce | counter) (a PRF in counter mode), the tag HMAC(key, "tag" | nonce |
ciphertext). The key is derived per session, so a sealed value is useless in another one.
Nothing here does I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

import msgspec

from service.settings import Settings, SettingsError

COOKIE_NAME = "comms_console"
# Before sign-in: the double-submit token of the sign-in form (login CSRF).
SIGN_IN_COOKIE_NAME = "comms_console_sign_in"
SESSION_TTL_S = 12 * 60 * 60
_NONCE_BYTES = 16


class Session(msgspec.Struct, frozen=True):
    """Who is signed in: the account, the credential used (username), until when."""

    account_sid: str = msgspec.field(name="a")
    username: str = msgspec.field(name="u")
    fingerprint: str = msgspec.field(name="f")
    nonce: str = msgspec.field(name="n")
    expires_at: int = msgspec.field(name="e")


def console_key(settings: Settings) -> bytes:
    """The key that signs sessions: from CONSOLE_SESSION_SECRET; outside production, derived
    from the provider token when unset (every API process derives the same one)."""
    if settings.console_session_secret:
        return hashlib.sha256(
            b"comms-console\0" + settings.console_session_secret.encode()
        ).digest()
    if settings.is_production:
        raise SettingsError("CONSOLE_SESSION_SECRET must be set in production")
    return hmac.new(
        settings.provider_auth_token.encode(), b"comms-console-session", hashlib.sha256
    ).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _mac(key: bytes, label: bytes, *parts: bytes) -> bytes:
    mac = hmac.new(key, label, hashlib.sha256)
    for part in parts:
        mac.update(len(part).to_bytes(4, "big"))
        mac.update(part)
    return mac.digest()


def fingerprint(key: bytes, username: str, secret_hash: bytes) -> str:
    return _mac(key, b"credential", username.encode(), secret_hash)[:16].hex()


def open_session(
    key: bytes, *, account_sid: str, username: str, secret_hash: bytes, now_s: float
) -> tuple[Session, str]:
    """A new session and its cookie value."""
    session = Session(
        account_sid=account_sid,
        username=username,
        fingerprint=fingerprint(key, username, secret_hash),
        nonce=secrets.token_hex(_NONCE_BYTES),
        expires_at=int(now_s) + SESSION_TTL_S,
    )
    payload = _b64(msgspec.json.encode(session))
    return session, f"{payload}.{_b64(_mac(key, b'session', payload.encode()))}"


def read_session(key: bytes, cookie: str | None, now_s: float) -> Session | None:
    """The session a cookie carries, if its signature holds and it has not expired."""
    if not cookie or len(cookie) > 1024:
        return None
    payload, _, signature = cookie.partition(".")
    # The signature's text, not its bytes: base64 lets two texts decode to the same bytes.
    expected = _b64(_mac(key, b"session", payload.encode()))
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    raw = _unb64(payload)
    if raw is None:
        return None
    try:
        session = msgspec.json.decode(raw, type=Session)
    except msgspec.DecodeError:
        return None
    return session if session.expires_at > now_s else None


def same_credential(key: bytes, session: Session, account_sid: str, secret_hash: bytes) -> bool:
    """Whether the credential the session was opened with is still what is stored."""
    current = fingerprint(key, session.username, secret_hash)
    return account_sid == session.account_sid and hmac.compare_digest(current, session.fingerprint)


def csrf_token(key: bytes, session: Session) -> str:
    """The token every form of this session carries (a synchronizer token)."""
    return _b64(_mac(key, b"csrf", session.nonce.encode()))


def csrf_matches(key: bytes, session: Session, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(token, csrf_token(key, session))


def sign_in_token() -> str:
    return secrets.token_urlsafe(24)


def _session_key(key: bytes, session: Session) -> bytes:
    return _mac(key, b"seal-key", session.nonce.encode())


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = [
        _mac(key, b"seal", nonce, counter.to_bytes(4, "big"))
        for counter in range((length + 31) // 32)
    ]
    return b"".join(blocks)[:length]


def seal(key: bytes, session: Session, text: str) -> str:
    """`text`, encrypted and authenticated for this session only."""
    sealing = _session_key(key, session)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    plain = text.encode()
    cipher = bytes(
        a ^ b for a, b in zip(plain, _keystream(sealing, nonce, len(plain)), strict=True)
    )
    tag = _mac(sealing, b"tag", nonce, cipher)[:16]
    return _b64(nonce + cipher + tag)


def unseal(key: bytes, session: Session, token: str) -> str | None:
    """What `seal` sealed in this session, or None for anything else."""
    raw = _unb64(token) if len(token) <= 512 else None
    if raw is None or len(raw) < _NONCE_BYTES + 16 or _b64(raw) != token:
        return None
    sealing = _session_key(key, session)
    nonce, cipher, tag = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:-16], raw[-16:]
    if not hmac.compare_digest(tag, _mac(sealing, b"tag", nonce, cipher)[:16]):
        return None
    plain = bytes(
        a ^ b for a, b in zip(cipher, _keystream(sealing, nonce, len(cipher)), strict=True)
    )
    try:
        return plain.decode()
    except UnicodeDecodeError:
        return None
