"""Request ids and the access log.

Every response carries `X-Request-Id`: the caller's own when it is 1 to 128 of
`[A-Za-z0-9._:-]`, else one made here (`req_…`). While the request runs the id is bound to the
context, so every log line of it carries `request_id` (service/logs.py merges the context in),
and whatever the request stores or starts can take it along: a send keeps it on its operation
(the dispatch job, the provider calls and the events carry it from there), a dispatch job
carries it in its payload. A worker binds the id of the work at hand the same way (`bound`).

RequestIds wraps the whole application, the router's 404s and 405s included, and writes one
access line per request when it ends: method, route template (never the raw path: ids would
make every line unique and carry what a path holds), status, duration, account, request id.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog

from service import ids

HEADER = "X-Request-Id"
_HEADER_KEY = HEADER.lower().encode()
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_current: ContextVar[str | None] = ContextVar("comms_request_id", default=None)

access_log = structlog.get_logger("comms.access")

# ASGI, loosely typed: this module is imported by logic that must not import litestar.
Scope = Any
Message = MutableMapping[str, Any]
Receive = Any
Send = Any
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


def current() -> str | None:
    """The request id of the work this task is doing, if any."""
    return _current.get()


def accepted(text: str | None) -> str:
    """The caller's request id when it is well-formed, else a new one."""
    if text is not None and _VALID.fullmatch(text):
        return text
    return ids.request_id()


@contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Within the block, `current()` is request_id and every log line carries it; whatever
    else the block binds to the log context (the account) is dropped at its end."""
    token = _current.set(request_id)
    before = structlog.contextvars.get_contextvars()
    if request_id is not None:
        structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**before)
        _current.reset(token)


class RequestIds:
    """ASGI middleware: the request id in and out, and the access log line."""

    def __init__(self, app: ASGIApp, *, on_start: Callable[[str], None] | None = None) -> None:
        self.app = app
        # Told the id once it is known (tracing puts it on the request's span).
        self.on_start = on_start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        caller = next((v for k, v in scope["headers"] if k == _HEADER_KEY), None)
        request_id = accepted(caller.decode("latin-1") if caller is not None else None)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (_HEADER_KEY, request_id.encode())
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != _HEADER_KEY
                ]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        started = time.perf_counter()
        with bound(request_id):
            if self.on_start is not None:
                self.on_start(request_id)
            try:
                await self.app(scope, receive, send_with_id)
            except BaseException:
                status = status or 500
                raise
            finally:
                state = scope.get("state") or {}
                access_log.info(
                    "request",
                    method=scope.get("method"),
                    route=scope.get("path_template") or None,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    account_sid=state.get("account_sid"),
                )
