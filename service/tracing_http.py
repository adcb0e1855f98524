"""The API's server spans (Litestar's OpenTelemetry middleware), named by route template, and
a status callback's trace context taken from its URL (see service/tracing.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar.plugins.opentelemetry import (
    OpenTelemetryConfig,
    OpenTelemetryInstrumentationMiddleware,
)
from opentelemetry import trace

from service.request_ids import ASGIApp, Receive, Scope, Send
from service.tracing import TRACEPARENT, Tracing, context_of

_TRACEPARENT_KEY = TRACEPARENT.encode()
# Probes and scrapes every few seconds would be most of the traces.
UNTRACED_PATHS = ["^/healthz$", "^/readyz$", "^/metrics$"]


def traced(app: ASGIApp, tracing: Tracing) -> ASGIApp:
    """`app` inside a server span per request (as it is when tracing is off)."""
    if tracing.provider is None:
        return app
    config = OpenTelemetryConfig(
        tracer_provider=tracing.provider,
        exclude=UNTRACED_PATHS,
        exclude_spans=["receive", "send"],
        scope_span_details_extractor=_initial_span_details,
    )
    middleware = OpenTelemetryInstrumentationMiddleware(_NamedByRoute(app), config=config)
    return _CallbackTraceContext(middleware)


def _initial_span_details(scope: Any) -> tuple[str, dict[str, Any]]:
    # The route is known once routing has run (see _NamedByRoute); until then, the method.
    return str(scope.get("method", "HTTP")), {}


class _NamedByRoute:
    """Inside the server span: once routing has run (when the answer starts: the span ends with
    the answer's last byte), the span is named by the route template (`POST /v1/Messages`),
    never the raw path, and carries the request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        span = trace.get_current_span()

        async def send_named(message: Any) -> None:
            if message["type"] == "http.response.start" and span.is_recording():
                route = scope.get("path_template") or "unmatched"
                span.update_name(f"{scope.get('method')} {route}")
                span.set_attribute("http.route", route)
                request_id = (scope.get("state") or {}).get("request_id")
                if request_id:
                    span.set_attribute("comms.request_id", request_id)
            await send(message)

        await self.app(scope, receive, send_named)


class _CallbackTraceContext:
    """A provider's status callback carries the provider call's trace context in its URL
    (`traceparent=`, put there by the channel): it becomes the request's `traceparent` header,
    so the callback's server span is the call's child. Only our callback routes take it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "http" and str(scope.get("path", "")).startswith("/callbacks/"):
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if context_of(query.get(TRACEPARENT)) is not None:
                headers = [(k, v) for k, v in scope["headers"] if k != _TRACEPARENT_KEY]
                headers.append((_TRACEPARENT_KEY, query[TRACEPARENT].encode()))
                scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)
