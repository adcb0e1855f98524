"""POST /sandbox/inbound: a handset replies. The sandbox stores the inbound message, opens the
WhatsApp session, applies STOP / START, and either adds it to the conversation the sender is
bound to (onMessageAdded) or POSTs Twilio's signed incoming-message webhook."""

from __future__ import annotations

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from sandbox import ids, magic
from sandbox.addresses import Channel, is_valid_recipient, is_valid_sender, split_channel
from sandbox.conversations import logic as conversations
from sandbox.errors import TwilioError
from sandbox.messages.resource import API_VERSION
from sandbox.messages.store import MessageRecord
from sandbox.segments import count_segments
from sandbox.state import SandboxState


class InboundMessage(msgspec.Struct, forbid_unknown_fields=True):
    """A simulated handset message: `from` the handset, `to` one of your numbers."""

    from_: str = msgspec.field(name="from")
    to: str
    body: str = ""
    media_urls: list[str] = msgspec.field(default_factory=list)
    account_sid: str | None = None  # default: the first configured account
    url: str | None = None  # default: the configured inbound webhook URL
    profile_name: str | None = None  # WhatsApp display name


class WebhookOutcome(msgspec.Struct):
    url: str
    delivered: bool
    status_code: int | None
    body: str | None


class InboundResult(msgspec.Struct):
    sid: str
    account_sid: str
    opted_out: bool
    conversation_sid: str | None
    conversation_message_sid: str | None
    webhook: WebhookOutcome | None


def inbound_params(record: MessageRecord, profile_name: str | None) -> list[tuple[str, str]]:
    """Twilio's incoming-message webhook parameters."""
    params = [
        ("AccountSid", record.account_sid),
        ("ApiVersion", API_VERSION),
        ("Body", record.body),
        ("From", record.from_ or ""),
        ("MessageSid", record.sid),
        ("NumMedia", str(len(record.media_urls))),
        ("NumSegments", str(record.num_segments)),
        ("SmsMessageSid", record.sid),
        ("SmsSid", record.sid),
        ("SmsStatus", "received"),
        ("To", record.to),
    ]
    for index, url in enumerate(record.media_urls):
        params.append((f"MediaUrl{index}", url))
        params.append((f"MediaContentType{index}", "image/jpeg"))
    for name, address in (("From", record.from_ or ""), ("To", record.to)):
        if split_channel(address)[1].startswith("+1"):
            params.append((f"{name}Country", "US"))
    if record.channel is Channel.WHATSAPP:
        handset = split_channel(record.from_ or "")[1]
        params.append(("WaId", handset.removeprefix("+")))
        params.append(("ProfileName", profile_name or "Sandbox User"))
        params.append(("MessageType", "image" if record.media_urls else "text"))
    return params


def _apply_keywords(sandbox: SandboxState, handset: str, business: str, body: str) -> None:
    keyword = body.strip().upper()
    pair = (split_channel(business)[1], split_channel(handset)[1])
    if keyword in magic.OPT_OUT_KEYWORDS:
        sandbox.opt_outs.add(pair)
    elif keyword in magic.OPT_IN_KEYWORDS:
        sandbox.opt_outs.discard(pair)


async def receive_inbound(sandbox: SandboxState, inbound: InboundMessage) -> InboundResult:
    account_sid = inbound.account_sid or sandbox.settings.accounts[0].sid
    token = sandbox.settings.auth_token_for(account_sid)
    if token is None:
        raise TwilioError(20001, f"Unknown account {account_sid}")
    if not is_valid_recipient(inbound.from_):
        raise TwilioError(
            20001, f"'from' must be a handset number or whatsapp: address, got {inbound.from_}"
        )
    if not is_valid_sender(inbound.to):
        raise TwilioError(20001, f"'to' must be one of your numbers, got {inbound.to}")
    channel = split_channel(inbound.from_)[0]
    if channel is not split_channel(inbound.to)[0]:
        raise TwilioError(21910)

    now = sandbox.clock.now()
    record = MessageRecord(
        sid=ids.new_sid(ids.MEDIA_MESSAGE if inbound.media_urls else ids.MESSAGE),
        account_sid=account_sid,
        to=inbound.to,
        from_=inbound.from_,
        messaging_service_sid=None,
        body=inbound.body,
        media_urls=tuple(inbound.media_urls),
        content_sid=None,
        content_variables=None,
        status_callback=None,
        validity_period_s=0,
        channel=channel,
        direction="inbound",
        status="received",
        num_segments=1 if channel is Channel.WHATSAPP else count_segments(inbound.body),
        date_created=now,
        date_updated=now,
        date_sent=now,
    )
    sandbox.messages.add(record, outbound_send=False)
    if channel is Channel.WHATSAPP:
        sandbox.whatsapp_sessions.setdefault(inbound.from_, {})[inbound.to] = now
    else:
        _apply_keywords(sandbox, inbound.from_, inbound.to, inbound.body)
    opted_out = (split_channel(inbound.to)[1], split_channel(inbound.from_)[1]) in sandbox.opt_outs

    bound = conversations.find_bound_participant(sandbox, account_sid, inbound.from_, inbound.to)
    if bound is not None:
        conversation, _ = bound
        record.conversation_sid = conversation.sid
        message = conversations.add_message(
            sandbox,
            conversation,
            conversations.ConversationMessageCreate(
                author=inbound.from_,
                body=inbound.body or None,
                media_sid=ids.new_sid(ids.MEDIA) if inbound.media_urls else None,
            ),
            post_message_added=True,
            source=channel.value.upper(),
        )
        return InboundResult(
            sid=record.sid,
            account_sid=account_sid,
            opted_out=opted_out,
            conversation_sid=conversation.sid,
            conversation_message_sid=message.sid,
            webhook=None,
        )

    url = inbound.url or sandbox.runtime.inbound_webhook_url
    outcome: WebhookOutcome | None = None
    if url:
        result = await sandbox.webhooks.post(
            kind="inbound",
            url=url,
            params=inbound_params(record, inbound.profile_name),
            auth_token=token,
        )
        outcome = WebhookOutcome(
            url=url, delivered=result.delivered, status_code=result.status_code, body=result.body
        )
    return InboundResult(
        sid=record.sid,
        account_sid=account_sid,
        opted_out=opted_out,
        conversation_sid=None,
        conversation_message_sid=None,
        webhook=outcome,
    )


class InboundController(Controller):
    path = "/sandbox"

    @post("/inbound", status_code=200)
    async def inbound(
        self, data: JSONBody[InboundMessage], sandbox: NamedDependency[SandboxState]
    ) -> InboundResult:
        """Simulate a handset message; answers once the webhook (if any) was delivered."""
        return await receive_inbound(sandbox, data)
