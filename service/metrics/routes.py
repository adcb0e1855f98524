"""GET /metrics: Prometheus text for the API process, the send queue and every worker."""

from __future__ import annotations

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
        "comms_request_duration_seconds, by route template; with PROMETHEUS_MULTIPROC_DIR, every "
        "server process's), status-callback lag (comms_status_callback_lag_seconds), the send "
        "queue per sender id (comms_sender_backlog_messages, "
        "comms_sender_backlog_oldest_seconds), messages waiting for later "
        "(comms_messages_waiting_for_later), and every worker's provider calls "
        "(comms_provider_requests_total, comms_provider_request_duration_seconds) and webhook "
        "deliveries (comms_webhook_deliveries_total)."
    ),
    media_type=CONTENT_TYPE_LATEST,
)
async def metrics(comms: NamedDependency[AppState]) -> Response[bytes]:
    queue = await logic.snapshot(comms.pool, comms.redis, comms.clock())
    registry = _process_registry(comms.settings.prometheus_multiproc_dir)
    body = generate_latest(registry) + generate_latest(queue)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _process_registry(multiproc_dir: str | None) -> CollectorRegistry:
    """This process's metrics; with several server processes sharing PROMETHEUS_MULTIPROC_DIR
    (prometheus_client's multiprocess mode: each process writes its values to files there,
    which it chooses when it is imported), all of theirs added up, whichever answers."""
    if not multiproc_dir:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiproc_dir)  # type: ignore[no-untyped-call]
    return registry
