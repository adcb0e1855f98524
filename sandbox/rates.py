"""Per-sender queues drained at the sender's rate, kept as virtual time.

Each sender has the loop time at which its queue is next free. A message of n segments takes
the next free slot and pushes it n / mps seconds later, so the wait a new message would face is
known at create time (Twilio answers 21611 when that wait exceeds the validity period)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import msgspec

from sandbox.addresses import SenderKind, sender_kind

# Twilio's defaults by sender shape, in segments per second.
DEFAULT_MPS: Mapping[SenderKind, float] = {
    SenderKind.LONG_CODE: 1.0,  # US and Canada
    SenderKind.INTERNATIONAL_LONG_CODE: 10.0,  # long codes outside +1
    SenderKind.TOLL_FREE: 3.0,
    SenderKind.SHORT_CODE: 100.0,
    SenderKind.ALPHANUMERIC: 10.0,
    SenderKind.WHATSAPP: 80.0,
    SenderKind.MESSAGING_SERVICE: 10.0,  # as if a pool of ten long codes
}

# Twilio queues at most 4 hours of a sender's traffic; past that, 21611 at create (a From) or
# 30001 after it (a Messaging Service).
MAX_QUEUE_S = 14_400.0


class SenderView(msgspec.Struct):
    address: str
    kind: str
    mps: float
    configured: bool
    backlog_s: float


class Slot(msgspec.Struct, frozen=True):
    """When a message leaves its sender's queue (loop time) and how long it waited."""

    leaves_at: float
    wait_s: float


class SenderQueues:
    def __init__(
        self, *, default_mps: float | None, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.default_mps = default_mps
        self.now = now
        self.configured: dict[str, float] = {}
        self.next_free: dict[str, float] = {}

    def mps_for(self, address: str) -> float:
        """The sender's rate; 0 means unlimited."""
        if address in self.configured:
            return self.configured[address]
        if self.default_mps is not None:
            return self.default_mps
        return DEFAULT_MPS[sender_kind(address)]

    def configure(self, address: str, mps: float) -> None:
        self.configured[address] = mps

    def wait_for(self, address: str) -> float:
        """Seconds a message taking the next slot now would wait."""
        return max(0.0, self.next_free.get(address, 0.0) - self.now())

    def reserve(self, address: str, segments: int) -> Slot:
        now = self.now()
        mps = self.mps_for(address)
        if mps <= 0:
            return Slot(leaves_at=now, wait_s=0.0)
        leaves_at = max(now, self.next_free.get(address, now))
        self.next_free[address] = leaves_at + max(segments, 1) / mps
        return Slot(leaves_at=leaves_at, wait_s=leaves_at - now)

    def views(self) -> list[SenderView]:
        addresses = sorted(set(self.configured) | set(self.next_free))
        return [
            SenderView(
                address=address,
                kind=sender_kind(address).value,
                mps=self.mps_for(address),
                configured=address in self.configured,
                backlog_s=self.wait_for(address),
            )
            for address in addresses
        ]

    def reset(self, default_mps: float | None) -> None:
        self.default_mps = default_mps
        self.configured.clear()
        self.next_free.clear()
