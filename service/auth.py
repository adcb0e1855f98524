"""HTTP Basic authentication on every API route; the tenant is the account behind it."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from service.accounts.logic import authenticate
from service.errors import Unauthorized
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
    connection.scope["state"]["account_sid"] = account_sid


def account_sid_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    sid: str = connection.scope["state"]["account_sid"]
    return sid
