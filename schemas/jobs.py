"""Payloads of background jobs (encoded with msgspec, never pickled)."""

from __future__ import annotations

import msgspec


class DispatchOperation(msgspec.Struct, frozen=True):
    """Hand the due messages of one operation to providers."""

    operation_id: str
