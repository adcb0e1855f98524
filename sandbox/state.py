"""Everything one sandbox process holds in memory, built from the settings by create_app."""

from __future__ import annotations

import msgspec

from sandbox.clock import Clock
from sandbox.conversations.store import ConversationStore
from sandbox.faults import FaultConfig, FaultInjector
from sandbox.messages.lifecycle import Lifecycles
from sandbox.messages.store import MessageStore
from sandbox.rates import SenderQueues
from sandbox.services import MessagingServices
from sandbox.settings import SandboxSettings
from sandbox.tasks import BackgroundTasks
from sandbox.webhooks import WebhookDispatcher


class RuntimeConfig(msgspec.Struct, kw_only=True):
    """Settings that POST /sandbox/config may change while running."""

    callback_delay_ms: int
    inbound_webhook_url: str | None
    conversations_webhook_url: str | None
    # URL prefix -> replacement, applied before fetching MMS media (sandbox/media.py).
    media_url_rewrites: dict[str, str] = msgspec.field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: SandboxSettings) -> RuntimeConfig:
        return cls(
            callback_delay_ms=settings.callback_delay_ms,
            inbound_webhook_url=settings.inbound_webhook_url,
            conversations_webhook_url=settings.conversations_webhook_url,
        )


def fault_config_from(settings: SandboxSettings) -> FaultConfig:
    return FaultConfig(
        rate_429=settings.rate_429,
        rate_5xx=settings.rate_5xx,
        latency_ms=settings.latency_ms,
        retry_after_s=settings.retry_after_s,
        rate_lost=settings.rate_lost,
        lost_answer_ms=settings.lost_answer_ms,
        seed=settings.seed,
    )


class SandboxState:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.clock = Clock()
        self.tasks = BackgroundTasks()
        self.webhooks = WebhookDispatcher(
            retry_delays_s=[ms / 1000 for ms in settings.callback_retry_delays_ms],
            clock=self.clock,
        )
        self.lifecycles = Lifecycles(
            clock=self.clock, webhooks=self.webhooks, auth_token_for=settings.auth_token_for
        )
        self.queues = SenderQueues(default_mps=settings.default_mps)
        self.faults = FaultInjector(fault_config_from(settings))
        self.runtime = RuntimeConfig.from_settings(settings)
        self.messages = MessageStore()
        self.conversations = ConversationStore()
        self.services = MessagingServices()
        # WhatsApp sessions: user address -> business address -> last inbound (epoch seconds).
        self.whatsapp_sessions: dict[str, dict[str, float]] = {}
        # Opted-out pairs (business number, handset number), from inbound STOP.
        self.opt_outs: set[tuple[str, str]] = set()

    @property
    def callback_delay_s(self) -> float:
        return self.runtime.callback_delay_ms / 1000

    async def reset(self) -> None:
        """Forget everything: cancel background work, clear stores, restore configuration."""
        await self.tasks.cancel_all()
        self.messages.clear()
        self.conversations.clear()
        self.services.clear()
        self.webhooks.attempts.clear()
        self.whatsapp_sessions.clear()
        self.opt_outs.clear()
        self.queues.reset(self.settings.default_mps)
        self.faults.reconfigure(fault_config_from(self.settings), reseed=True)
        self.runtime = RuntimeConfig.from_settings(self.settings)
        self.clock.reset()
