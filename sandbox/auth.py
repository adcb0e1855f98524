"""HTTP Basic auth with AccountSid:AuthToken, as Twilio's REST APIs take it."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

import msgspec
from litestar import Request
from litestar.di import NamedDependency

from sandbox.errors import TwilioError
from sandbox.state import SandboxState

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Twilio API"'}


class Account(msgspec.Struct, frozen=True):
    sid: str
    auth_token: str


def _credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, separator, password = decoded.partition(":")
    return (user, password) if separator else None


async def provide_account(
    request: Request[Any, Any, Any], sandbox: NamedDependency[SandboxState]
) -> Account:
    """Authenticate the caller (401 / 20003 otherwise); also where injected latency is added."""
    await sandbox.faults.add_latency()
    credentials = _credentials(request.headers.get("authorization"))
    if credentials is None:
        raise TwilioError(20003, headers=_CHALLENGE)
    sid, token = credentials
    expected = sandbox.settings.auth_token_for(sid)
    if expected is None or not hmac.compare_digest(expected.encode(), token.encode()):
        raise TwilioError(20003, headers=_CHALLENGE)
    path_sid = request.path_params.get("account_sid")
    if path_sid is not None and path_sid != sid:
        raise TwilioError(20003, headers=_CHALLENGE)
    return Account(sid=sid, auth_token=token)
