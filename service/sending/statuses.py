"""The statuses of messages and attempts, the provider's statuses in our terms, and the
forward-only order they move in."""

from __future__ import annotations

from typing import Final, get_args

from schemas.messages import AttemptStatus, MessageStatus

# Messages a worker may still send: waiting for their time, or for their sender.
WAITING: Final[tuple[MessageStatus, ...]] = ("SCHEDULED", "QUEUED")
# An attempt ending in one of these failed on its route: the message may fall back.
ATTEMPT_FAILURES: Final[tuple[AttemptStatus, ...]] = ("UNDELIVERED", "FAILED")
MESSAGE_STATUSES: Final[tuple[MessageStatus, ...]] = get_args(MessageStatus)
ATTEMPT_STATUSES: Final[tuple[AttemptStatus, ...]] = get_args(AttemptStatus)

# Twilio Messages statuses → attempt status. Anything not yet sent on by the carrier is QUEUED.
PROVIDER_TO_ATTEMPT: Final[dict[str, AttemptStatus]] = {
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
ATTEMPT_MOVES_FROM: Final[dict[AttemptStatus, tuple[AttemptStatus, ...]]] = {
    "QUEUED": ("SUBMITTING",),
    "SENT": ("SUBMITTING", "QUEUED"),
    "DELIVERED": ("SUBMITTING", "QUEUED", "SENT"),
    "UNDELIVERED": ("SUBMITTING", "QUEUED", "SENT"),
    "FAILED": ("SUBMITTING", "QUEUED", "SENT"),
    "READ": ("SUBMITTING", "QUEUED", "SENT", "DELIVERED"),
}

# The status a receipt gives a message on its current route: its attempt's (SUBMITTING never
# comes from a receipt).
MESSAGE_STATUS_OF: Final[dict[AttemptStatus, MessageStatus]] = {
    "QUEUED": "QUEUED",
    "SENT": "SENT",
    "DELIVERED": "DELIVERED",
    "UNDELIVERED": "UNDELIVERED",
    "FAILED": "FAILED",
    "READ": "READ",
}

# The same order for messages (which start SCHEDULED or QUEUED).
MESSAGE_MOVES_FROM: Final[dict[MessageStatus, tuple[MessageStatus, ...]]] = {
    "QUEUED": ("SCHEDULED",),
    "SENT": ("SCHEDULED", "QUEUED"),
    "DELIVERED": ("SCHEDULED", "QUEUED", "SENT"),
    "UNDELIVERED": ("SCHEDULED", "QUEUED", "SENT"),
    "FAILED": ("SCHEDULED", "QUEUED", "SENT"),
    "READ": ("SCHEDULED", "QUEUED", "SENT", "DELIVERED"),
    "CANCELED": ("SCHEDULED", "QUEUED"),
}
