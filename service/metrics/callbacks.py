"""Status-callback lag, measured where callbacks arrive (the API processes): from the provider
call of an attempt to each status callback about it. In multiprocess mode every server process
writes its share (PROMETHEUS_MULTIPROC_DIR) and /metrics adds them up."""

from __future__ import annotations

from prometheus_client import Histogram

# Seconds: a `sent` comes within a second or so, `delivered` within minutes, some never.
LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 86400.0)

CALLBACK_LAG = Histogram(
    "comms_status_callback_lag_seconds",
    "Time from an attempt's provider call to a status callback about it, by the status the "
    "callback reports (provider callback time minus attempt time)",
    ["status"],
    buckets=LAG_BUCKETS,
)


def observe_callback_lag(status: str, seconds: float) -> None:
    # Clocks of different machines: a callback is never earlier than its call.
    CALLBACK_LAG.labels(status=status.lower()).observe(max(0.0, seconds))
