"""The arq worker: one WorkerSettings, shared clients in the worker context."""

from __future__ import annotations

import os
import uuid
from typing import Any

import msgspec
import structlog
from arq import cron, func

from schemas.jobs import DISPATCH_JOB, IMPORT_PROFILES_JOB, DispatchOperation
from service import db, ids, logs, queue, request_ids, tracing
from service.audiences import expansion
from service.clock import system_clock
from service.metrics.counters import ProviderCalls, WebhookDeliveries
from service.retention import logic as retention
from service.sending.channel import Channel
from service.settings import Settings, load_settings
from service.tracing import Tracing
from workers.channels.conversations import ConversationsChannel
from workers.channels.http import ProviderClient
from workers.channels.observed import ObservedChannel
from workers.channels.sms import MessagesApiChannel
from workers.channels.whatsapp import WhatsAppChannel
from workers.dispatch import Dispatcher
from workers.imports import JOB_TIMEOUT_S, import_profiles, resume_imports
from workers.ratelimit import RateLimiter, SenderLeases
from workers.webhooks import relay_events, webhook_client

log = structlog.get_logger(__name__)

# How long a dispatch job expands before it sends: with the dispatcher's run_for_s it stays
# within arq's job timeout.
EXPANSION_IN_DISPATCH_S = 30.0


def provider_client(settings: Settings) -> ProviderClient:
    """The one client for provider calls."""
    return ProviderClient(
        timeout_s=settings.provider_timeout_s, max_connections=settings.provider_max_connections
    )


def build_dispatcher(
    settings: Settings,
    pool: Any,
    client: ProviderClient,
    clock: Any = system_clock,
    limiter: RateLimiter | None = None,
    leases: SenderLeases | None = None,
    provider_calls: ProviderCalls | None = None,
    traces: Tracing | None = None,
) -> Dispatcher:
    provider = {
        "base_url": settings.provider_base_url,
        "account_sid": settings.provider_account_sid,
        "auth_token": settings.provider_auth_token,
    }
    status_callback = f"{settings.callbacks_url}/callbacks/twilio/messages/status"
    channels: dict[str, Channel] = {
        "SMS": MessagesApiChannel(client, status_callback_url=status_callback, **provider),
        "WHATSAPP": WhatsAppChannel(client, status_callback_url=status_callback, **provider),
        "CONVERSATIONS": ConversationsChannel(client, pool, clock, **provider),
    }
    observed = traces or Tracing()
    channels = {name: ObservedChannel(channel, observed) for name, channel in channels.items()}
    return Dispatcher(
        pool=pool,
        channels=channels,
        clock=clock,
        limiter=limiter,
        leases=leases,
        provider_calls=provider_calls,
        unregistered_mps=settings.unregistered_sender_mps,
        horizon_s=settings.claim_horizon_s,
        batch_size=settings.send_batch_size,
        lease_s=settings.claim_lease_s,
        call_timeout_s=settings.provider_timeout_s,
        concurrency=settings.provider_concurrency,
    )


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or load_settings(os.environ)
    logs.configure(settings)
    ctx["settings"] = settings
    # Given (a test's in-memory exporter), its owner instruments the libraries and flushes it.
    if ctx.get("tracing") is None:
        ctx["tracing"] = tracing.from_settings(settings, service_name="comms-worker")
        ctx["tracing"].instrument_libraries()
        ctx["owns_tracing"] = True
    ctx["pool"] = await db.create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        timeout_s=settings.db_timeout_s,
    )
    ctx["http"] = provider_client(settings)
    ctx["webhook_http"] = webhook_client(settings)
    ctx["webhook_deliveries"] = WebhookDeliveries(ctx["redis"])
    ctx["dispatcher"] = build_dispatcher(
        settings,
        ctx["pool"],
        ctx["http"],
        ctx.get("clock") or system_clock,
        RateLimiter(ctx["redis"]),
        SenderLeases(ctx["redis"]),
        ProviderCalls(ctx["redis"]),
        ctx["tracing"],
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["http"].aclose()
    await ctx["webhook_http"].aclose()
    await ctx["pool"].close()
    if ctx.get("owns_tracing"):
        ctx["tracing"].shutdown()


async def dispatch_operation(ctx: dict[str, Any], payload: dict[str, Any]) -> int:
    """Start sending a newly accepted operation now rather than at the next tick.

    Rates hold whatever is claimed where: the limiter is per sender, not per job.
    """
    job = msgspec.convert(payload, DispatchOperation)
    dispatcher: Dispatcher = ctx["dispatcher"]
    traces: Tracing = ctx["tracing"]
    operation_id = uuid.UUID(job.operation_id)
    with (
        request_ids.bound(job.request_id),
        tracing.job_span(
            traces.tracer,
            DISPATCH_JOB,
            job.traceparent,
            **{"comms.operation_id": ids.encode(ids.OPERATION, operation_id)},
        ),
    ):
        log.info("dispatching", operation_id=ids.encode(ids.OPERATION, operation_id))
        # A send to profiles or audiences is expanded first (a bounded while, within the job's
        # timeout with the dispatch: expand_pending carries on with what is left).
        await expansion.expand_operation(
            ctx["pool"],
            operation_id,
            clock=dispatcher.clock,
            unregistered_mps=dispatcher.unregistered_mps,
            page_size=ctx["settings"].expansion_page_size,
            run_for_s=EXPANSION_IN_DISPATCH_S,
        )
        handled = await dispatcher.run(operation_id)
        log.info(
            "dispatched", operation_id=ids.encode(ids.OPERATION, operation_id), handled=handled
        )
        return handled


async def send_due(ctx: dict[str, Any]) -> int:
    """Every second: whatever is due (scheduled, retries, expired leases, lost enqueues)."""
    dispatcher: Dispatcher = ctx["dispatcher"]
    with tracing.untraced(ctx.get("tracing")):
        return await dispatcher.run()


async def expand_pending(ctx: dict[str, Any]) -> int:
    """Every second: expansions no worker is on (a lost enqueue, a killed worker's)."""
    dispatcher: Dispatcher = ctx["dispatcher"]
    with tracing.untraced(ctx.get("tracing")):
        return await expansion.expand_pending(
            ctx["pool"],
            clock=dispatcher.clock,
            unregistered_mps=dispatcher.unregistered_mps,
            page_size=ctx["settings"].expansion_page_size,
        )


async def purge_expired(ctx: dict[str, Any]) -> int:
    """Hourly: the day partitions of the next days (made ahead); operations with their
    messages, attempts, events and webhook deliveries past retention (whole days, dropped as
    partitions); expired idempotency keys."""
    settings: Settings = ctx["settings"]
    dispatcher: Dispatcher = ctx["dispatcher"]
    with tracing.untraced(ctx.get("tracing")):
        return await retention.purge(
            ctx["pool"], now=dispatcher.clock(), retention_days=settings.retention_days
        )


class WorkerSettings:
    functions = [
        func(dispatch_operation, name=DISPATCH_JOB, keep_result=0),
        func(import_profiles, name=IMPORT_PROFILES_JOB, keep_result=0, timeout=JOB_TIMEOUT_S),
    ]
    cron_jobs = [
        cron(send_due, second=set(range(60)), unique=True, run_at_startup=True),
        cron(purge_expired, minute=17, second=0, unique=True, timeout=3600),
        cron(relay_events, second=set(range(60)), unique=True, timeout=300),
        cron(expand_pending, second=set(range(60)), unique=True, run_at_startup=True, timeout=300),
        cron(
            resume_imports,
            second=set(range(60)),
            unique=True,
            run_at_startup=True,
            timeout=JOB_TIMEOUT_S,
        ),
    ]
    on_startup = startup
    on_shutdown = shutdown
    job_serializer = staticmethod(queue.serialize_job)
    job_deserializer = staticmethod(queue.deserialize_job)
    max_jobs = 20
    poll_delay = 0.1
    # The Redis location comes from the environment at start (see workers/__main__.py).
    redis_settings = None
