"""Garbage collection for long-running processes that pace sends and stamp receipts.

A full collection walks every tracked object: in a process that has imported Litestar, arq,
asyncpg and httpx, that is a pause of 100-400 ms on this kind of machine, during which no
answer is read and no send starts. Objects alive once start-up is over (modules, classes, the
app and its routes) live as long as the process, so they are moved out of the collector's
reach; later collections walk only what was made since.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once, then exempt everything alive now from later collections."""
    gc.collect()
    gc.freeze()
