"""HTTP Basic authentication on every API route; the tenant is the account behind it, and its
request quota is checked here (service.quotas)."""

from __future__ import annotations

from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from service.accounts.logic import authenticate
from service.errors import TooManyRequests, Unauthorized
from service.state import AppState


async def require_account(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    state: AppState = connection.app.state.comms
    account_sid = await authenticate(
        state.pool, state.credentials, connection.headers.get("authorization")
    )
    if account_sid is None:
        raise Unauthorized()
    retry_after_s = await state.quota.retry_after_s(account_sid)
    if retry_after_s is not None:
        raise TooManyRequests(retry_after_s)
    connection.scope["state"]["account_sid"] = account_sid
    # The request's log lines from here on say whose request it is (the access line too).
    structlog.contextvars.bind_contextvars(account_sid=account_sid)


def account_sid_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    sid: str = connection.scope["state"]["account_sid"]
    return sid
