"""Traces: off by default, on with the standard OTEL_* settings; one trace from the send's
request through PostgreSQL, the enqueue, the dispatch job and the provider call to the status
callbacks, recorded with the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis

from sandbox.serving import serve_asgi
from service import devstack
from service.app import create_app
from service.settings import Settings, SettingsError
from service.tracing import Tracing, exporter_for
from tests.support.clock import TestClock
from tests.support.factories import SMS_FROM
from tests.support.provider import post_signed
from tests.support.stack import CONVERSATIONS_WEBHOOK_PATH, sandbox_webhooks
from tests.support.tenants import Tenant
from tests.support.workers import run_worker
from workers import settings as worker_settings

# ------------------------------------------------------------------------ configuration


def with_otel(settings: Settings, **otel: Any) -> Settings:
    return msgspec.structs.replace(settings, **otel)


def test_off_unless_an_exporter_is_configured(settings: Settings) -> None:
    assert exporter_for(settings) is None
    assert exporter_for(with_otel(settings, otel_traces_exporter="none")) is None
    assert exporter_for(with_otel(settings, otel_service_name="comms-api")) is None
    disabled = with_otel(
        settings, otel_sdk_disabled=True, otel_exporter_otlp_endpoint="http://collector:4318"
    )
    assert exporter_for(disabled) is None


def test_an_otlp_endpoint_or_the_exporter_turns_it_on(settings: Settings) -> None:
    base = exporter_for(with_otel(settings, otel_exporter_otlp_endpoint="http://collector:4318/"))
    assert isinstance(base, OTLPSpanExporter)
    assert base._endpoint == "http://collector:4318/v1/traces"
    traces = exporter_for(
        with_otel(
            settings,
            otel_exporter_otlp_endpoint="http://collector:4318",
            otel_exporter_otlp_traces_endpoint="http://other:4318/custom",
        )
    )
    assert isinstance(traces, OTLPSpanExporter)
    assert traces._endpoint == "http://other:4318/custom"
    assert isinstance(
        exporter_for(with_otel(settings, otel_traces_exporter="otlp")), OTLPSpanExporter
    )
    assert isinstance(
        exporter_for(with_otel(settings, otel_traces_exporter="console")), ConsoleSpanExporter
    )
    with pytest.raises(SettingsError):
        exporter_for(with_otel(settings, otel_traces_exporter="zipkin"))


# ------------------------------------------------------------------------ one trace


@contextmanager
def recorded() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    """Tracing into memory, with the libraries instrumented for the block only."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing(provider)
    tracing.instrument_libraries()
    try:
        yield tracing, exporter
    finally:
        tracing.uninstrument_libraries()
        provider.shutdown()


@asynccontextmanager
async def traced_api(settings: Settings, tracing: Tracing) -> AsyncIterator[Settings]:
    """An API of its own on the test's database, tracing; the settings that point at it (the
    provider's status callbacks come back to it)."""
    port = devstack.free_port()
    own = msgspec.structs.replace(settings, public_base_url=f"http://127.0.0.1:{port}")
    async with serve_asgi(create_app(own, clock=TestClock(), tracing=tracing), port=port):
        yield own


def attribute(span: ReadableSpan, *names: str) -> Any:
    attributes = span.attributes or {}
    return next((attributes[n] for n in names if n in attributes), None)


def is_database(span: ReadableSpan) -> bool:
    return bool(attribute(span, "db.system", "db.system.name") == "postgresql")


def is_redis(span: ReadableSpan) -> bool:
    return bool(attribute(span, "db.system", "db.system.name") == "redis")


def tree(spans: Sequence[ReadableSpan], root: ReadableSpan) -> str:
    """The trace under `root`, one span a line, children indented (database and Redis spans
    of one parent counted on one line)."""
    children: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        if span.parent is not None:
            children.setdefault(span.parent.span_id, []).append(span)
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        kind = span.kind.name.lower()
        lines.append(f"{'  ' * depth}{span.name} [{kind}]")
        below = sorted(children.get(span.context.span_id, []), key=lambda s: s.start_time or 0)
        grouped: dict[str, int] = {}
        for child in below:
            if is_database(child) or is_redis(child):
                label = f"{'postgresql' if is_database(child) else 'redis'}: {child.name}"
                grouped[label] = grouped.get(label, 0) + 1
            else:
                walk(child, depth + 1)
        for label, count in grouped.items():
            lines.append(f"{'  ' * (depth + 1)}{label} [client] x{count}")

    walk(root, 0)
    return "\n".join(lines)


@pytest.mark.own_stack
async def test_one_trace_from_the_request_to_the_status_callbacks(
    settings: Settings, sandbox: httpx.AsyncClient, tenant: Tenant
) -> None:
    with recorded() as (tracing, exporter):
        async with traced_api(settings, tracing) as own:
            async with httpx.AsyncClient(base_url=own.public_base_url, auth=tenant.auth) as api:
                answer = await api.post(
                    "/v1/Messages",
                    json={
                        "to": [{"address": "+15558675310", "channel": "PHONE"}],
                        "content": {"text": "traced"},
                        "from": SMS_FROM,
                    },
                    headers={"X-Request-Id": "traced-send-1"},
                )
                assert answer.status_code == 202, answer.text
            await run_worker(own, tracing=tracing)
            # The sandbox's status callbacks (sent, delivered) reach the traced API.
            await sandbox.post("/sandbox/drain")
        spans = exporter.get_finished_spans()

    [request] = [s for s in spans if s.name == "POST /v1/Messages"]
    trace_id = request.context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    print("\n" + tree(in_trace, request))

    assert request.kind is SpanKind.SERVER
    assert request.parent is None
    assert attribute(request, "http.route") == "/v1/Messages"
    assert attribute(request, "comms.request_id") == "traced-send-1"
    under_request = [
        s for s in in_trace if s.parent and s.parent.span_id == request.context.span_id
    ]
    # The send's statements (the operation's INSERT, the messages' COPY) and the enqueue.
    assert any(is_database(s) for s in under_request)
    assert any(is_redis(s) for s in under_request)

    [job] = [s for s in in_trace if s.name == "dispatch_operation"]
    assert job.kind is SpanKind.CONSUMER
    assert job.parent is not None
    assert job.parent.span_id == request.context.span_id
    operation = answer.json()["operationId"]
    assert attribute(job, "comms.operation_id") == operation
    assert any(
        is_database(s) and s.parent and s.parent.span_id == job.context.span_id for s in in_trace
    )

    [call] = [s for s in in_trace if s.name == "send SMS"]
    assert call.parent is not None
    assert call.parent.span_id == job.context.span_id
    assert attribute(call, "comms.verdict") == "ACCEPTED"
    [http] = [
        s
        for s in in_trace
        if s.parent and s.parent.span_id == call.context.span_id and s.kind is SpanKind.CLIENT
    ]
    assert attribute(http, "http.request.method", "http.method") == "POST"

    callbacks = [s for s in in_trace if s.name == "POST /callbacks/twilio/messages/status"]
    assert len(callbacks) >= 2  # sent and delivered
    for callback in callbacks:
        assert callback.kind is SpanKind.SERVER
        assert callback.parent is not None
        assert callback.parent.span_id == call.context.span_id
    # The receipts' statements are in the callbacks' spans.
    callback_ids = {c.context.span_id for c in callbacks}
    assert any(is_database(s) and s.parent and s.parent.span_id in callback_ids for s in in_trace)


@pytest.mark.own_stack
async def test_a_send_the_tick_picks_up_joins_its_request_trace(
    settings: Settings, tenant: Tenant, redis: Redis
) -> None:
    """The dispatch job was lost (Redis flushed): the per-second tick sends the message. The
    tick itself makes no spans; the provider call is in the send's trace."""
    with recorded() as (tracing, exporter):
        async with traced_api(settings, tracing) as own:
            async with httpx.AsyncClient(base_url=own.public_base_url, auth=tenant.auth) as api:
                answer = await api.post(
                    "/v1/Messages",
                    json={
                        "to": [{"address": "+15558675311", "channel": "PHONE"}],
                        "content": {"text": "late"},
                        "from": SMS_FROM,
                    },
                )
                assert answer.status_code == 202, answer.text
            await redis.flushdb()
            [request] = [s for s in exporter.get_finished_spans() if s.name == "POST /v1/Messages"]
            exporter.clear()
            ctx: dict[str, Any] = {"settings": own, "redis": redis, "tracing": tracing}
            await worker_settings.startup(ctx)
            try:
                assert await worker_settings.send_due(ctx) == 1
            finally:
                await worker_settings.shutdown(ctx)
        spans = exporter.get_finished_spans()

    [call] = [s for s in spans if s.name == "send SMS"]
    assert call.context.trace_id == request.context.trace_id
    assert call.parent is not None
    assert call.parent.span_id == request.context.span_id
    # The tick's own statements and Redis calls made no spans (they would be traces of their
    # own): everything recorded is in the send's trace (the call, its HTTP request, and the
    # status callbacks under it).
    assert {s.context.trace_id for s in spans} == {request.context.trace_id}
    assert any(
        s.kind is SpanKind.CLIENT and s.parent and s.parent.span_id == call.context.span_id
        for s in spans
    )


@pytest.mark.own_stack
async def test_conversations_delivery_receipts_join_the_sends_trace(
    settings: Settings, sandbox: httpx.AsyncClient, tenant: Tenant, pool: asyncpg.Pool
) -> None:
    """A Conversations webhook carries no trace context: its receipt is applied in a span of
    the send's trace (found by the message's provider sid), linked to the webhook's request.
    The receipt is the provider's `onDeliveryUpdated` sent again once the send has settled
    (a repeat is harmless), so the provider sid is known whatever the order of arrival."""
    with recorded() as (tracing, exporter):
        async with traced_api(settings, tracing) as own:
            await sandbox.post("/sandbox/config", json=sandbox_webhooks(own.public_base_url))
            async with httpx.AsyncClient(base_url=own.public_base_url, auth=tenant.auth) as api:
                answer = await api.post(
                    "/v1/Messages",
                    json={
                        "to": [{"address": "+15558675312", "channel": "CONVERSATIONS"}],
                        "content": {"text": "traced chat"},
                        "from": {"address": "+15017122690", "channel": "CONVERSATIONS"},
                    },
                )
                assert answer.status_code == 202, answer.text
            await run_worker(own, tracing=tracing)
            await sandbox.post("/sandbox/drain")
            sid = await pool.fetchval(
                "SELECT a.provider_sid FROM attempts a JOIN operations o ON o.id = a.operation_id"
                " WHERE o.account_sid = $1",
                tenant.account_sid,
            )
            assert sid is not None
            exporter.clear()
            form = {"EventType": "onDeliveryUpdated", "MessageSid": sid, "Status": "delivered"}
            webhook = await post_signed(own, CONVERSATIONS_WEBHOOK_PATH, form, None)
            assert webhook.status_code == 204, webhook.text
        spans = exporter.get_finished_spans()

    [request_trace] = {
        s.context.trace_id for s in spans if s.name == "conversations delivery receipt"
    }
    [receipt] = [s for s in spans if s.name == "conversations delivery receipt"]
    [webhook_span] = [s for s in spans if s.name == "POST /callbacks/twilio/conversations"]
    assert receipt.parent is not None
    # In the send's trace, under its request's span (recorded before exporter.clear()).
    stored = await pool.fetchval(
        "SELECT traceparent FROM operations WHERE account_sid = $1", tenant.account_sid
    )
    assert stored is not None
    assert f"{request_trace:032x}" == stored.split("-")[1]
    assert f"{receipt.parent.span_id:016x}" == stored.split("-")[2]
    [link] = receipt.links
    assert link.context.span_id == webhook_span.context.span_id
    assert webhook_span.context.trace_id != request_trace
