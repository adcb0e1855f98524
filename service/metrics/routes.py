"""GET /metrics: Prometheus text for the API process, the send queue and every worker."""

from __future__ import annotations

import os

from litestar import Response, get
from litestar.di import NamedDependency
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from service.metrics import logic
from service.state import AppState


@get(
    "/metrics",
    tags=["Health"],
    operation_id="Metrics",
    summary="Prometheus metrics",
    description=(
        "Prometheus text format: this API process's HTTP requests (comms_requests_total, "
        "comms_request_duration_seconds, by route template), the send queue per sender "
        "(comms_sender_backlog_messages, comms_sender_backlog_oldest_seconds), messages waiting "
        "for later (comms_messages_waiting_for_later), and every worker's provider calls "
        "(comms_provider_requests_total, comms_provider_request_duration_seconds)."
    ),
    media_type=CONTENT_TYPE_LATEST,
)
async def metrics(comms: NamedDependency[AppState]) -> Response[bytes]:
    queue = await logic.snapshot(comms.pool, comms.redis, comms.clock())
    body = generate_latest(_process_registry()) + generate_latest(queue)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _process_registry() -> CollectorRegistry:
    """This process's metrics; with several server processes sharing PROMETHEUS_MULTIPROC_DIR
    (prometheus_client's multiprocess mode), all of theirs added up."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
