"""What handlers share, built in the app's lifespan and reached through dependencies."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from arq.connections import ArqRedis

from service.accounts.logic import CredentialCache
from service.callbacks.batching import ReceiptGroups
from service.clock import Clock
from service.events.feed import Feed
from service.outages import OutageLog
from service.quotas import RequestQuota
from service.settings import Settings
from service.tracing import Tracing


@dataclass
class AppState:
    settings: Settings
    pool: asyncpg.Pool
    reads: asyncpg.Pool  # reads planned once per shape (db.create_read_pool)
    redis: ArqRedis
    credentials: CredentialCache
    clock: Clock
    receipts: ReceiptGroups
    quota: RequestQuota
    redis_outages: OutageLog  # the quota's and the dispatch hints' failures, logged together
    tracing: Tracing
    feed: Feed  # the events every SSE stream of the process follows

    @property
    def base_url(self) -> str:
        return self.settings.public_base_url.rstrip("/")
