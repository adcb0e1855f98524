"""Receipts from concurrent callback requests applied together (group commit).

Every message brings two or more status callbacks, so receipts are the API's busiest
traffic. While one group of receipts is being applied, the ones that arrive wait and go
together in the next group: under light load each receipt is applied at once, alone; under
heavy load a few statements carry hundreds of receipts. Each request still answers only
after its own receipt is stored, so a provider never sees success for a receipt not kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from service.callbacks.store import Applied, Receipt

ApplyReceipts = Callable[[Sequence[Receipt]], Awaitable[list[Applied | None]]]


class ReceiptGroups:
    def __init__(self, apply: ApplyReceipts, *, max_group: int = 500) -> None:
        self._apply = apply
        self._max_group = max_group
        self._waiting: list[tuple[Receipt, asyncio.Future[Applied | None]]] = []
        self._applying: asyncio.Task[None] | None = None

    async def apply(self, receipt: Receipt) -> Applied | None:
        """Apply one receipt with whatever else is waiting; what it moved."""
        result: asyncio.Future[Applied | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((receipt, result))
        if self._applying is None:
            self._applying = asyncio.create_task(self._apply_waiting())
        return await result

    async def _apply_waiting(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[: self._max_group]
                del self._waiting[: self._max_group]
                try:
                    moved = await self._apply([receipt for receipt, _ in group])
                except Exception as exc:  # each waiting request fails with it, as if alone
                    for _, result in group:
                        if not result.done():
                            result.set_exception(exc)
                    continue
                for (_, result), applied in zip(group, moved, strict=True):
                    if not result.done():
                        result.set_result(applied)
        finally:
            self._applying = None
