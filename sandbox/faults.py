"""Fault injection: a seeded fraction of creates answer 429 or 5xx or lose their answer, and
added latency."""

from __future__ import annotations

import asyncio
import random

import msgspec

from sandbox.errors import TwilioError


class FaultConfig(msgspec.Struct, kw_only=True):
    """Runtime-adjustable via POST /sandbox/config; starts from the settings."""

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    latency_ms: int = 0
    retry_after_s: int = 0
    # A fraction of message creates is carried out but answered only after lost_answer_ms:
    # a client that gives up sooner never learns the SID (the answer is lost on the way).
    rate_lost: float = 0.0
    lost_answer_ms: int = 30_000
    seed: int | None = None


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)  # noqa: S311 - chaos, not cryptography

    def reconfigure(self, config: FaultConfig, *, reseed: bool) -> None:
        self.config = config
        if reseed:
            self.rng = random.Random(config.seed)  # noqa: S311

    async def add_latency(self) -> None:
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)

    async def hold_lost_answer(self) -> None:
        await asyncio.sleep(self.config.lost_answer_ms / 1000)

    def check_create(self) -> bool:
        """Raise the injected error for this create, if the dice say so; True when the create
        is to go ahead but its answer be lost (see hold_lost_answer)."""
        config = self.config
        if config.rate_429 <= 0 and config.rate_5xx <= 0 and config.rate_lost <= 0:
            return False
        roll = self.rng.random()
        if roll < config.rate_429:
            raise TwilioError(20429, headers={"Retry-After": str(config.retry_after_s)})
        if roll < config.rate_429 + config.rate_5xx:
            if self.rng.random() < 0.5:
                raise TwilioError(20500)
            raise TwilioError(20503, headers={"Retry-After": str(config.retry_after_s)})
        return roll < config.rate_429 + config.rate_5xx + config.rate_lost
