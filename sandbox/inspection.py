"""The inspection and control API under /sandbox/ (no auth): what was sent, drain, reset,
runtime configuration, sender rates, webhook attempts, and the clock."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from sandbox import ids
from sandbox.addresses import is_messaging_service_sid, is_valid_sender
from sandbox.errors import TwilioError
from sandbox.faults import FaultConfig
from sandbox.rates import SenderView
from sandbox.services import UNKNOWN_SERVICE_SID, MessagingService
from sandbox.state import RuntimeConfig, SandboxState
from sandbox.webhooks import WebhookAttempt


class Health(msgspec.Struct):
    status: str
    pending_tasks: int


class SentMessage(msgspec.Struct):
    """One accepted send, as the ledger shows it."""

    index: int
    sid: str
    account_sid: str
    to: str
    from_: str | None = msgspec.field(name="from")
    body: str
    messaging_service_sid: str | None
    media_urls: list[str]
    content_sid: str | None
    channel: str
    status: str
    error_code: int | None
    num_segments: int
    received_at: float
    sent_at: float | None
    conversation_sid: str | None


class SentMessages(msgspec.Struct):
    messages: list[SentMessage]
    total: int


class DrainResult(msgspec.Struct):
    drained: bool
    pending: int


class ConfigView(msgspec.Struct):
    rate_429: float
    rate_5xx: float
    latency_ms: int
    retry_after_s: int
    rate_lost: float
    lost_answer_ms: int
    seed: int | None
    callback_delay_ms: int
    inbound_webhook_url: str | None
    conversations_webhook_url: str | None
    media_url_rewrites: dict[str, str]


Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]


class ConfigPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out keep their value. `seed` reseeds the fault dice."""

    rate_429: Fraction | msgspec.UnsetType = msgspec.UNSET
    rate_5xx: Fraction | msgspec.UnsetType = msgspec.UNSET
    latency_ms: NonNegative | msgspec.UnsetType = msgspec.UNSET
    retry_after_s: NonNegative | msgspec.UnsetType = msgspec.UNSET
    rate_lost: Fraction | msgspec.UnsetType = msgspec.UNSET
    lost_answer_ms: NonNegative | msgspec.UnsetType = msgspec.UNSET
    seed: int | msgspec.UnsetType | None = msgspec.UNSET
    callback_delay_ms: NonNegative | msgspec.UnsetType = msgspec.UNSET
    inbound_webhook_url: str | msgspec.UnsetType | None = msgspec.UNSET
    conversations_webhook_url: str | msgspec.UnsetType | None = msgspec.UNSET
    media_url_rewrites: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


class SenderRate(msgspec.Struct):
    address: str
    mps: Annotated[float, msgspec.Meta(ge=0)]


class Senders(msgspec.Struct):
    senders: list[SenderView]


class ServiceCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A Messaging Service with its number pool; `sid` made up when left out, `account_sid`
    the first account when left out, `mps` its rate (default 10; 0 = unlimited)."""

    numbers: Annotated[list[str], msgspec.Meta(min_length=1, max_length=400)]
    sid: str | None = None
    account_sid: str | None = None
    mps: Annotated[float, msgspec.Meta(ge=0)] | None = None


class ServiceView(msgspec.Struct):
    sid: str
    account_sid: str | None
    numbers: list[str]
    mps: float


class ServicesView(msgspec.Struct):
    services: list[ServiceView]


def _service_view(sandbox: SandboxState, service: MessagingService) -> ServiceView:
    return ServiceView(
        sid=service.sid,
        account_sid=service.account_sid,
        numbers=list(service.numbers),
        mps=sandbox.queues.mps_for(service.sid),
    )


class WebhookAttempts(msgspec.Struct):
    attempts: list[WebhookAttempt]


class ClockAdvance(msgspec.Struct):
    advance_s: float


class ClockView(msgspec.Struct):
    now: float
    offset_s: float


def _config_view(sandbox: SandboxState) -> ConfigView:
    faults, runtime = sandbox.faults.config, sandbox.runtime
    return ConfigView(
        rate_429=faults.rate_429,
        rate_5xx=faults.rate_5xx,
        latency_ms=faults.latency_ms,
        retry_after_s=faults.retry_after_s,
        rate_lost=faults.rate_lost,
        lost_answer_ms=faults.lost_answer_ms,
        seed=faults.seed,
        callback_delay_ms=runtime.callback_delay_ms,
        inbound_webhook_url=runtime.inbound_webhook_url,
        conversations_webhook_url=runtime.conversations_webhook_url,
        media_url_rewrites=dict(runtime.media_url_rewrites),
    )


class InspectionController(Controller):
    path = "/sandbox"

    @get("/health")
    async def health(self, sandbox: NamedDependency[SandboxState]) -> Health:
        return Health(status="ok", pending_tasks=sandbox.tasks.pending)

    @get("/messages")
    async def sent_messages(
        self,
        sandbox: NamedDependency[SandboxState],
        after: Annotated[int, QueryParameter(ge=-1)] = -1,
    ) -> SentMessages:
        """Every accepted send in order; `after=N` returns only entries with index > N."""
        entries = sandbox.messages.sends[after + 1 :]
        return SentMessages(
            messages=[
                SentMessage(
                    index=entry.index,
                    sid=entry.message.sid,
                    account_sid=entry.message.account_sid,
                    to=entry.message.to,
                    from_=entry.message.from_,
                    body=entry.message.body,
                    messaging_service_sid=entry.message.messaging_service_sid,
                    media_urls=list(entry.message.media_urls),
                    content_sid=entry.message.content_sid,
                    channel=entry.message.channel.value,
                    status=entry.message.status,
                    error_code=entry.message.error_code,
                    num_segments=entry.message.num_segments,
                    received_at=entry.received_at,
                    sent_at=entry.message.sent_at,
                    conversation_sid=entry.message.conversation_sid,
                )
                for entry in entries
            ],
            total=len(sandbox.messages.sends),
        )

    @post("/drain", status_code=200)
    async def drain(
        self,
        sandbox: NamedDependency[SandboxState],
        wait_s: Annotated[float, QueryParameter(name="timeout", gt=0)] = 60.0,
    ) -> Response[DrainResult]:
        """Return once every lifecycle step and webhook scheduled so far is done (or given up)."""
        drained = await sandbox.tasks.drain(wait_s)
        result = DrainResult(drained=drained, pending=sandbox.tasks.pending)
        return Response(result, status_code=200 if drained else 503)

    @post("/reset", status_code=200)
    async def reset(self, sandbox: NamedDependency[SandboxState]) -> Health:
        await sandbox.reset()
        return Health(status="reset", pending_tasks=sandbox.tasks.pending)

    @get("/config")
    async def read_config(self, sandbox: NamedDependency[SandboxState]) -> ConfigView:
        return _config_view(sandbox)

    @post("/config", status_code=200)
    async def update_config(
        self, data: JSONBody[ConfigPatch], sandbox: NamedDependency[SandboxState]
    ) -> ConfigView:
        changes = {
            name: value
            for name, value in msgspec.structs.asdict(data).items()
            if value is not msgspec.UNSET
        }
        fault_fields = set(FaultConfig.__struct_fields__)
        sandbox.faults.reconfigure(
            msgspec.structs.replace(
                sandbox.faults.config,
                **{name: value for name, value in changes.items() if name in fault_fields},
            ),
            reseed="seed" in changes,
        )
        runtime_fields = set(RuntimeConfig.__struct_fields__)
        sandbox.runtime = msgspec.structs.replace(
            sandbox.runtime,
            **{name: value for name, value in changes.items() if name in runtime_fields},
        )
        return _config_view(sandbox)

    @get("/senders")
    async def senders(self, sandbox: NamedDependency[SandboxState]) -> Senders:
        return Senders(senders=sandbox.queues.views())

    @post("/senders", status_code=200)
    async def configure_sender(
        self, data: JSONBody[SenderRate], sandbox: NamedDependency[SandboxState]
    ) -> SenderView:
        """Set one sender's rate (segments per second; 0 = unlimited)."""
        if not (is_valid_sender(data.address) or is_messaging_service_sid(data.address)):
            raise TwilioError(20001, f"Not a sender address: {data.address}")
        sandbox.queues.configure(data.address, data.mps)
        return next(view for view in sandbox.queues.views() if view.address == data.address)

    @post("/messaging-services", status_code=201)
    async def create_service(
        self, data: JSONBody[ServiceCreate], sandbox: NamedDependency[SandboxState]
    ) -> ServiceView:
        """Create (or replace) a Messaging Service with its number pool."""
        sid = data.sid or ids.new_sid(ids.MESSAGING_SERVICE)
        if not is_messaging_service_sid(sid) or sid == UNKNOWN_SERVICE_SID:
            raise TwilioError(21705, f"The Messaging Service Sid {sid} is invalid.")
        bad = [n for n in data.numbers if not is_valid_sender(n) or is_messaging_service_sid(n)]
        if bad:
            raise TwilioError(20001, f"Not a sender address: {bad[0]}")
        account_sid = data.account_sid or sandbox.settings.accounts[0].sid
        if sandbox.settings.auth_token_for(account_sid) is None:
            raise TwilioError(20001, f"Unknown account: {account_sid}")
        service = sandbox.services.create(sid, account_sid, tuple(data.numbers))
        if data.mps is not None:
            sandbox.queues.configure(sid, data.mps)
        return _service_view(sandbox, service)

    @get("/messaging-services")
    async def list_services(self, sandbox: NamedDependency[SandboxState]) -> ServicesView:
        """The Messaging Services created so far (not the default pools)."""
        return ServicesView(
            services=[_service_view(sandbox, s) for s in sandbox.services.created.values()]
        )

    @get("/webhooks")
    async def webhook_attempts(self, sandbox: NamedDependency[SandboxState]) -> WebhookAttempts:
        """The most recent webhook attempts (status callbacks, inbound, Conversations)."""
        return WebhookAttempts(attempts=list(sandbox.webhooks.attempts))

    @post("/clock", status_code=200)
    async def advance_clock(
        self, data: JSONBody[ClockAdvance], sandbox: NamedDependency[SandboxState]
    ) -> ClockView:
        """Move the sandbox's wall clock forward (e.g. past a WhatsApp 24-hour session)."""
        sandbox.clock.advance(data.advance_s)
        return ClockView(now=sandbox.clock.now(), offset_s=sandbox.clock.offset_s)
