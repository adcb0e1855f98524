"""Traces: OpenTelemetry, off unless an exporter is configured with the standard variables.

`OTEL_TRACES_EXPORTER=otlp` (or `console`), or an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), turns tracing on; `OTEL_SDK_DISABLED=true` or
`OTEL_TRACES_EXPORTER=none` keeps it off. OTLP goes over HTTP/protobuf (port 4318 on a
collector); the exporter itself reads the other standard OTLP variables (headers, timeout,
certificates) and the SDK `OTEL_RESOURCE_ATTRIBUTES`. Off, nothing is patched and no span is
made: the tracer is a no-op.

One trace follows a send: the request's server span (Litestar's OpenTelemetry middleware),
its PostgreSQL statements (asyncpg) and its Redis calls (the dispatch job's enqueue among
them), the dispatch job (whose payload carries the request's trace context), each provider
call (a span per call, with aiohttp's client span inside; the call's context also goes to the
provider in the `traceparent` header), and the status callbacks (the call's context rides in
the StatusCallback URL and becomes the callback request's parent: the provider does not send
it back otherwise). A Conversations delivery webhook is set on the provider, not per send, so
its receipt is applied in a span of the send's trace found by the provider sid, linked to the
webhook's own request span. The request's context is kept with its operation, so a message
sent later (scheduled, retried, falling back, picked up by the per-second tick) still joins its
send's trace, linked to the tick that sent it. The workers' per-second ticks make no spans of their
own: they would start a trace a second per worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from service.settings import Settings, SettingsError

_W3C = TraceContextTextMapPropagator()
TRACEPARENT = "traceparent"


def exporter_for(settings: Settings) -> SpanExporter | None:
    """The span exporter the OTEL_* settings ask for; None when tracing is off."""
    if settings.otel_sdk_disabled:
        return None
    chosen = (settings.otel_traces_exporter or "").strip().lower()
    endpoint = settings.otel_exporter_otlp_traces_endpoint
    if not endpoint and settings.otel_exporter_otlp_endpoint:
        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    if chosen == "" and endpoint:
        chosen = "otlp"
    if chosen in ("", "none"):
        return None
    if chosen == "console":
        return ConsoleSpanExporter()
    if chosen == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint or None)
    raise SettingsError(
        f"OTEL_TRACES_EXPORTER={settings.otel_traces_exporter!r}: this service exports traces "
        "with otlp (HTTP/protobuf) or console, or not at all (none)"
    )


@dataclass(frozen=True)
class Tracing:
    """A process's tracer provider (None: tracing is off), passed down like any collaborator."""

    provider: TracerProvider | None = None

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    @property
    def tracer(self) -> Tracer:
        if self.provider is None:
            return trace.NoOpTracer()
        return self.provider.get_tracer("comms")

    def instrument_libraries(self) -> None:
        """Spans for asyncpg statements, Redis commands and aiohttp requests (the provider's
        and webhook clients), from now on and in the whole process (these libraries are
        patched; a second call does nothing)."""
        if self.provider is None:
            return
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        asyncpg = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
        asyncpg.instrument(tracer_provider=self.provider)
        RedisInstrumentor().instrument(tracer_provider=self.provider)
        AioHttpClientInstrumentor().instrument(tracer_provider=self.provider)

    def uninstrument_libraries(self) -> None:
        if self.provider is None:
            return
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
        RedisInstrumentor().uninstrument()
        AioHttpClientInstrumentor().uninstrument()

    def shutdown(self) -> None:
        """Export what is left."""
        if self.provider is not None:
            self.provider.shutdown()


def from_settings(settings: Settings, *, service_name: str) -> Tracing:
    """Tracing as the OTEL_* settings ask (`service_name` unless OTEL_SERVICE_NAME is set)."""
    exporter = exporter_for(settings)
    if exporter is None:
        return Tracing()
    resource = Resource.create({"service.name": settings.otel_service_name or service_name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider)


def traceparent() -> str | None:
    """The current span's W3C traceparent, or None when there is no (sampled or not) span."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get(TRACEPARENT)


def context_of(traceparent: str | None) -> Context | None:
    """A context whose parent span is the one `traceparent` names (None for none or garbage).
    Built on an empty context, so nothing of the current one (a suppression) carries over."""
    if not traceparent:
        return None
    extracted = _W3C.extract({TRACEPARENT: traceparent}, context=Context())
    if not trace.get_current_span(extracted).get_span_context().is_valid:
        return None
    return extracted


@contextmanager
def job_span(
    tracer: Tracer, name: str, traceparent: str | None, **attributes: Any
) -> Iterator[Span]:
    """A worker job's span, a child of the context its payload carries (else a new trace)."""
    with (
        _within(context_of(traceparent)),
        tracer.start_as_current_span(name, kind=SpanKind.CONSUMER, attributes=attributes) as span,
    ):
        yield span


@contextmanager
def work_span(
    tracer: Tracer, name: str, traceparent: str | None, **attributes: Any
) -> Iterator[Span]:
    """A span for work done for an earlier request (a provider call for a stored send): in the
    current trace when that is the request's own (the dispatch job it started), else in the
    request's trace, linked to whatever is running it (a tick, another send's job)."""
    stored = context_of(traceparent)
    current = trace.get_current_span().get_span_context()
    parent: Context | None = None
    links: list[Link] = []
    if stored is not None:
        stored_trace = trace.get_current_span(stored).get_span_context().trace_id
        if not (current.is_valid and current.trace_id == stored_trace):
            parent = stored
            links = [Link(current)] if current.is_valid else []
    elif not current.is_valid:
        parent = Context()  # a trace of its own, even within an untraced tick
    with (
        _within(parent),
        tracer.start_as_current_span(
            name, kind=SpanKind.INTERNAL, links=links, attributes=attributes
        ) as span,
    ):
        yield span


@contextmanager
def _within(context: Context | None) -> Iterator[None]:
    """`context` as the current one in the block (None: the current one stays): what starts
    there starts from it alone, not from what the current context held (a suppression)."""
    if context is None:
        yield
        return
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


@contextmanager
def untraced(tracing: Tracing | None) -> Iterator[None]:
    """No spans from the libraries within (a worker's per-second ticks): work_span still makes
    its own, in the trace of the request the work is for."""
    if tracing is None or tracing.provider is None:
        yield
        return
    with suppress_instrumentation():
        yield
