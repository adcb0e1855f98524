"""Provider statuses in our terms, and the forward-only order of statuses."""

from __future__ import annotations

# Twilio Messages statuses → attempt status. Anything not yet sent on by the carrier is QUEUED.
PROVIDER_TO_ATTEMPT = {
    "accepted": "QUEUED",
    "scheduled": "QUEUED",
    "queued": "QUEUED",
    "sending": "QUEUED",
    "sent": "SENT",
    "delivered": "DELIVERED",
    "read": "READ",
    "undelivered": "UNDELIVERED",
    "failed": "FAILED",
    "canceled": "FAILED",
    "partially_delivered": "DELIVERED",
    "receiving": "QUEUED",
    "received": "DELIVERED",
}

# For each status an attempt may move to, the statuses it may move from. Nothing moves back:
# a late `sent` after `delivered` changes nothing, and nothing follows UNDELIVERED or FAILED.
ATTEMPT_MOVES_FROM: dict[str, tuple[str, ...]] = {
    "QUEUED": ("SUBMITTING",),
    "SENT": ("SUBMITTING", "QUEUED"),
    "DELIVERED": ("SUBMITTING", "QUEUED", "SENT"),
    "UNDELIVERED": ("SUBMITTING", "QUEUED", "SENT"),
    "FAILED": ("SUBMITTING", "QUEUED", "SENT"),
    "READ": ("SUBMITTING", "QUEUED", "SENT", "DELIVERED"),
}

# The same order for messages (which start SCHEDULED or QUEUED).
MESSAGE_MOVES_FROM: dict[str, tuple[str, ...]] = {
    "QUEUED": ("SCHEDULED",),
    "SENT": ("SCHEDULED", "QUEUED"),
    "DELIVERED": ("SCHEDULED", "QUEUED", "SENT"),
    "UNDELIVERED": ("SCHEDULED", "QUEUED", "SENT"),
    "FAILED": ("SCHEDULED", "QUEUED", "SENT"),
    "READ": ("SCHEDULED", "QUEUED", "SENT", "DELIVERED"),
    "CANCELED": ("SCHEDULED", "QUEUED"),
}
