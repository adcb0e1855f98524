"""Conversations v1: conversations, participants with messaging bindings, messages delivered
to every SMS / WhatsApp participant, and the onMessageAdded / onDeliveryUpdated webhooks."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable

import msgspec

from sandbox import ids, magic
from sandbox.addresses import Channel, is_valid_recipient, is_valid_sender, split_channel
from sandbox.clock import format_iso8601
from sandbox.conversations.store import (
    Binding,
    ConversationMessageRecord,
    ConversationRecord,
    ParticipantRecord,
    ReceiptRecord,
)
from sandbox.errors import TwilioError
from sandbox.messages.lifecycle import plan_steps
from sandbox.messages.logic import delivery_outcome, is_opted_out
from sandbox.messages.store import MessageRecord
from sandbox.rates import MAX_QUEUE_S
from sandbox.segments import count_segments
from sandbox.state import SandboxState

STATES = ("initializing", "inactive", "active", "closed")
MAX_BODY_CHARS = 1600
# Twilio's codes for a conversation's states (https://www.twilio.com/docs/api/errors/<code>):
# a closed conversation takes no more messages, participants or changes (50377), and none
# starts closed (50384). Twilio does not document the HTTP status; both are refusals of the
# request as sent, answered 400 here.
CODE_CLOSED = 50377
CODE_CREATED_CLOSED = 50384
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


class ConversationCreate(msgspec.Struct, frozen=True, kw_only=True):
    friendly_name: str | None = None
    unique_name: str | None = None
    attributes: str | None = None
    messaging_service_sid: str | None = None
    state: str | None = None
    timers_inactive: str | None = None
    timers_closed: str | None = None


class ParticipantCreate(msgspec.Struct, frozen=True, kw_only=True):
    identity: str | None = None
    address: str | None = None
    proxy_address: str | None = None
    projected_address: str | None = None
    attributes: str | None = None
    role_sid: str | None = None


class ConversationMessageCreate(msgspec.Struct, frozen=True, kw_only=True):
    author: str | None = None
    body: str | None = None
    attributes: str | None = None
    media_sid: str | None = None
    content_sid: str | None = None
    content_variables: str | None = None


def _not_found(path: str) -> TwilioError:
    return TwilioError(20404, f"The requested resource {path} was not found")


def _refuse_if_closed(conversation: ConversationRecord) -> None:
    if conversation.state == "closed":
        raise TwilioError(
            CODE_CLOSED, "Can't update conversation as it's in final closed state", status=400
        )


def _attributes(raw: str | None) -> str:
    if raw is None:
        return "{}"
    try:
        json.loads(raw)
    except ValueError:
        raise TwilioError(20001, "Attributes must be a valid JSON string") from None
    return raw


def _duration_s(raw: str, name: str, minimum_s: int) -> int:
    match = _DURATION.match(raw)
    if not match or raw in ("P", "PT"):
        raise TwilioError(20001, f"{name} must be an ISO 8601 duration, got {raw}")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total < minimum_s:
        raise TwilioError(20001, f"{name} must be at least {minimum_s // 60} minutes")
    return total


def _check_state(state: str | None) -> str:
    if state is None:
        return "active"
    if state not in STATES:
        raise TwilioError(20001, f"State must be one of {', '.join(STATES)}")
    return state


def create_conversation(
    sandbox: SandboxState, account_sid: str, create: ConversationCreate
) -> ConversationRecord:
    if create.unique_name and sandbox.conversations.find(account_sid, create.unique_name):
        raise TwilioError(50353, "Conversation with provided unique name already exists")
    if create.state == "closed":
        raise TwilioError(CODE_CREATED_CLOSED, "Initial state can't be 'closed'", status=400)
    now = sandbox.clock.now()
    timers: dict[str, str] = {}
    if create.timers_inactive:
        inactive = _duration_s(create.timers_inactive, "Timers.Inactive", 60)
        timers["date_inactive"] = format_iso8601(now + inactive)
    if create.timers_closed:
        closed = _duration_s(create.timers_closed, "Timers.Closed", 600)
        timers["date_closed"] = format_iso8601(now + closed)
    conversation = ConversationRecord(
        sid=ids.new_sid(ids.CONVERSATION),
        account_sid=account_sid,
        chat_service_sid=ids.derived_sid(ids.CHAT_SERVICE, account_sid),
        messaging_service_sid=create.messaging_service_sid
        or ids.derived_sid(ids.MESSAGING_SERVICE, account_sid),
        friendly_name=create.friendly_name,
        unique_name=create.unique_name,
        attributes=_attributes(create.attributes),
        state=_check_state(create.state),
        timers=timers,
        date_created=now,
        date_updated=now,
    )
    sandbox.conversations.add(conversation)
    return conversation


def get_conversation(sandbox: SandboxState, account_sid: str, sid: str) -> ConversationRecord:
    conversation = sandbox.conversations.find(account_sid, sid)
    if conversation is None:
        raise _not_found(f"/v1/Conversations/{sid}")
    return conversation


def update_conversation(
    sandbox: SandboxState, conversation: ConversationRecord, update: ConversationCreate
) -> ConversationRecord:
    _refuse_if_closed(conversation)
    if update.unique_name and update.unique_name != conversation.unique_name:
        if sandbox.conversations.find(conversation.account_sid, update.unique_name):
            raise TwilioError(50353, "Conversation with provided unique name already exists")
        conversation.unique_name = update.unique_name
    if update.friendly_name is not None:
        conversation.friendly_name = update.friendly_name
    if update.attributes is not None:
        conversation.attributes = _attributes(update.attributes)
    if update.state is not None:
        conversation.state = _check_state(update.state)
        if conversation.state == "closed":  # a closed conversation frees its bindings
            sandbox.conversations.release_bindings(conversation)
    conversation.date_updated = sandbox.clock.now()
    return conversation


def delete_conversation(sandbox: SandboxState, conversation: ConversationRecord) -> None:
    sandbox.conversations.remove(conversation)


def add_participant(
    sandbox: SandboxState, conversation: ConversationRecord, create: ParticipantCreate
) -> ParticipantRecord:
    _refuse_if_closed(conversation)
    binding: Binding | None = None
    if create.address or create.proxy_address:
        if not create.address or not is_valid_recipient(create.address):
            raise TwilioError(
                20001, "MessagingBinding.Address must be a phone number or channel address"
            )
        if not create.proxy_address or not is_valid_sender(create.proxy_address):
            raise TwilioError(
                20001, "MessagingBinding.ProxyAddress is required with MessagingBinding.Address"
            )
        if split_channel(create.address)[0] is not split_channel(create.proxy_address)[0]:
            raise TwilioError(
                20001, "MessagingBinding.Address and ProxyAddress must use the same channel"
            )
        key = (conversation.account_sid, create.address, create.proxy_address)
        existing = sandbox.conversations.bindings.get(key)
        if existing is not None:
            raise TwilioError(
                50416,
                "A binding for this participant and proxy address already exists in "
                f"Conversation {existing[0]}",
            )
        binding = Binding(
            type=split_channel(create.address)[0].value,
            address=create.address,
            proxy_address=create.proxy_address,
        )
    elif create.projected_address:
        binding = Binding(type="sms", projected_address=create.projected_address)
    if create.identity is None and binding is None:
        raise TwilioError(20001, "Either Identity or MessagingBinding.Address must be provided")
    if create.identity is not None and any(
        participant.identity == create.identity
        for participant in conversation.participants.values()
    ):
        raise TwilioError(50433, "Participant already exists")
    now = sandbox.clock.now()
    participant = ParticipantRecord(
        sid=ids.new_sid(ids.PARTICIPANT),
        account_sid=conversation.account_sid,
        conversation_sid=conversation.sid,
        identity=create.identity,
        attributes=_attributes(create.attributes),
        binding=binding,
        role_sid=create.role_sid or ids.derived_sid("RL", conversation.account_sid),
        date_created=now,
        date_updated=now,
    )
    conversation.participants[participant.sid] = participant
    sandbox.conversations.bind(participant)
    return participant


def get_participant(conversation: ConversationRecord, sid: str) -> ParticipantRecord:
    participant = conversation.participants.get(sid) or next(
        (p for p in conversation.participants.values() if p.identity == sid), None
    )
    if participant is None:
        raise _not_found(f"/v1/Conversations/{conversation.sid}/Participants/{sid}")
    return participant


def remove_participant(
    sandbox: SandboxState, conversation: ConversationRecord, participant: ParticipantRecord
) -> None:
    sandbox.conversations.unbind(participant)
    conversation.participants.pop(participant.sid, None)


def get_message(conversation: ConversationRecord, sid: str) -> ConversationMessageRecord:
    message = conversation.find_message(sid)
    if message is None and sid.isdigit():
        message = next((m for m in conversation.messages if m.index == int(sid)), None)
    if message is None:
        raise _not_found(f"/v1/Conversations/{conversation.sid}/Messages/{sid}")
    return message


def find_bound_participant(
    sandbox: SandboxState, account_sid: str, address: str, proxy_address: str
) -> tuple[ConversationRecord, ParticipantRecord] | None:
    """The conversation a handset's message to `proxy_address` lands in, if any."""
    found = sandbox.conversations.bindings.get((account_sid, address, proxy_address))
    if found is None:
        return None
    conversation = sandbox.conversations.by_sid.get(found[0])
    if conversation is None or found[1] not in conversation.participants:
        return None
    return conversation, conversation.participants[found[1]]


def _author_participant(conversation: ConversationRecord, author: str) -> ParticipantRecord | None:
    for participant in conversation.participants.values():
        if participant.identity == author:
            return participant
        if participant.binding is not None and participant.binding.address == author:
            return participant
    return None


class _Delivery(msgspec.Struct):
    participant: ParticipantRecord
    channel_message: MessageRecord
    outcome: magic.Outcome
    leaves_queue_at: float | None


def add_message(
    sandbox: SandboxState,
    conversation: ConversationRecord,
    create: ConversationMessageCreate,
    *,
    post_message_added: bool,
    source: str = "API",
) -> ConversationMessageRecord:
    """Store the message, then (in the background) POST onMessageAdded if asked and deliver it
    to every messaging-bound participant but its author, POSTing onDeliveryUpdated per step.
    A closed conversation refuses it (50377): nothing is stored or sent."""
    _refuse_if_closed(conversation)
    if not create.body and not create.media_sid and not create.content_sid:
        raise TwilioError(20001, "Message body, MediaSid or ContentSid is required")
    if create.body and len(create.body) > MAX_BODY_CHARS:
        raise TwilioError(20001, f"Message body exceeds {MAX_BODY_CHARS} characters")
    if create.content_variables and not create.content_sid:
        raise TwilioError(20001, "ContentVariables requires ContentSid")
    author = create.author or "system"
    author_participant = _author_participant(conversation, author)
    now = sandbox.clock.now()
    message = ConversationMessageRecord(
        sid=ids.new_sid(ids.CONVERSATION_MESSAGE),
        account_sid=conversation.account_sid,
        conversation_sid=conversation.sid,
        index=len(conversation.messages),
        author=author,
        body=create.body,
        attributes=_attributes(create.attributes),
        participant_sid=author_participant.sid if author_participant else None,
        content_sid=create.content_sid,
        media_sid=create.media_sid,
        date_created=now,
        date_updated=now,
    )
    conversation.messages.append(message)
    conversation.date_updated = now
    deliveries = [
        _plan_delivery(
            sandbox,
            conversation,
            message,
            participant,
            participant.binding.address,
            participant.binding.proxy_address,
        )
        for participant in conversation.participants.values()
        if participant.binding is not None
        and participant.binding.address is not None
        and participant is not author_participant
    ]
    sandbox.tasks.spawn(
        _process(sandbox, conversation, message, deliveries, post_message_added, source),
        name=f"conversation message {message.sid}",
    )
    return message


def _plan_delivery(
    sandbox: SandboxState,
    conversation: ConversationRecord,
    message: ConversationMessageRecord,
    participant: ParticipantRecord,
    to: str,
    sender: str | None,
) -> _Delivery:
    channel = split_channel(to)[0]
    body = message.body or ""
    segments = 1 if channel is Channel.WHATSAPP or message.media_sid else count_segments(body)
    outcome = delivery_outcome(sandbox, to, sender, templated=message.content_sid is not None)
    if is_opted_out(sandbox, to, sender):
        outcome = magic.Outcome(magic.OutcomeKind.FAILED, 21610)
    leaves_queue_at: float | None = None
    if outcome.kind is not magic.OutcomeKind.FAILED:
        queue = sender or conversation.messaging_service_sid
        if sandbox.queues.wait_for(queue) > MAX_QUEUE_S:
            outcome = magic.Outcome(magic.OutcomeKind.FAILED, 30001)
        else:
            leaves_queue_at = sandbox.queues.reserve(queue, segments).leaves_at
    now = sandbox.clock.now()
    record = MessageRecord(
        sid=ids.new_sid(ids.MEDIA_MESSAGE if message.media_sid else ids.MESSAGE),
        account_sid=conversation.account_sid,
        to=to,
        from_=sender,
        messaging_service_sid=conversation.messaging_service_sid,
        body=body,
        media_urls=(),
        content_sid=message.content_sid,
        content_variables=None,
        status_callback=None,
        validity_period_s=int(MAX_QUEUE_S),
        channel=channel,
        direction="outbound-api",
        status="queued",
        num_segments=segments,
        date_created=now,
        date_updated=now,
        conversation_sid=conversation.sid,
    )
    sandbox.messages.add(record, outbound_send=True)
    return _Delivery(
        participant=participant,
        channel_message=record,
        outcome=outcome,
        leaves_queue_at=leaves_queue_at,
    )


async def _process(
    sandbox: SandboxState,
    conversation: ConversationRecord,
    message: ConversationMessageRecord,
    deliveries: list[_Delivery],
    post_message_added: bool,
    source: str,
) -> None:
    url = sandbox.runtime.conversations_webhook_url
    token = sandbox.settings.auth_token_for(conversation.account_sid) or ""
    if post_message_added and url:
        await sandbox.webhooks.post(
            kind="conversations",
            url=url,
            params=message_added_params(conversation, message, source),
            auth_token=token,
        )
    accepted_at = asyncio.get_running_loop().time()
    await asyncio.gather(
        *(
            sandbox.lifecycles.run(
                delivery.channel_message,
                plan_steps(
                    accepted_at=accepted_at,
                    leaves_queue_at=delivery.leaves_queue_at,
                    delay_s=sandbox.callback_delay_s,
                    outcome=delivery.outcome,
                ),
                None,
                report=_receipt_reporter(sandbox, conversation, message, delivery, token),
            )
            for delivery in deliveries
        )
    )


def _receipt_reporter(
    sandbox: SandboxState,
    conversation: ConversationRecord,
    message: ConversationMessageRecord,
    delivery: _Delivery,
    token: str,
) -> Callable[[MessageRecord], Awaitable[None]]:
    receipt: list[ReceiptRecord] = []

    async def report(channel_message: MessageRecord) -> None:
        if channel_message.status == "queued":
            return  # receipts start at `sent` (or `failed`)
        now = sandbox.clock.now()
        if not receipt:
            receipt.append(
                ReceiptRecord(
                    sid=ids.new_sid(ids.DELIVERY_RECEIPT),
                    account_sid=conversation.account_sid,
                    conversation_sid=conversation.sid,
                    message_sid=message.sid,
                    channel_message_sid=channel_message.sid,
                    participant_sid=delivery.participant.sid,
                    status=channel_message.status,
                    date_created=now,
                    date_updated=now,
                )
            )
            message.receipts.append(receipt[0])
        current = receipt[0]
        current.status = channel_message.status
        current.error_code = channel_message.error_code or 0
        current.date_updated = now
        message.date_updated = now
        url = sandbox.runtime.conversations_webhook_url
        if url:
            await sandbox.webhooks.post(
                kind="conversations",
                url=url,
                params=delivery_updated_params(conversation, message, current),
                auth_token=token,
            )

    return report


def message_added_params(
    conversation: ConversationRecord, message: ConversationMessageRecord, source: str
) -> list[tuple[str, str]]:
    params = [
        ("AccountSid", conversation.account_sid),
        ("Attributes", message.attributes),
        ("Author", message.author),
        ("ChatServiceSid", conversation.chat_service_sid),
        ("ConversationSid", conversation.sid),
        ("DateCreated", format_iso8601(message.date_created)),
        ("EventType", "onMessageAdded"),
        ("Index", str(message.index)),
        ("MessageSid", message.sid),
        ("MessagingServiceSid", conversation.messaging_service_sid),
        ("RetryCount", "0"),
        ("Source", source),
        ("WebhookType", "webhook"),
    ]
    if message.body is not None:
        params.append(("Body", message.body))
    if message.participant_sid is not None:
        params.append(("ParticipantSid", message.participant_sid))
    if message.content_sid is not None:
        params.append(("ContentSid", message.content_sid))
    if message.media_sid is not None:
        params.append(("Media", json.dumps([{"Sid": message.media_sid}])))
    return params


def delivery_updated_params(
    conversation: ConversationRecord, message: ConversationMessageRecord, receipt: ReceiptRecord
) -> list[tuple[str, str]]:
    return [
        ("AccountSid", conversation.account_sid),
        ("ChannelMessageSid", receipt.channel_message_sid),
        ("ChatServiceSid", conversation.chat_service_sid),
        ("ConversationSid", conversation.sid),
        ("DateCreated", format_iso8601(receipt.date_created)),
        ("DateUpdated", format_iso8601(receipt.date_updated)),
        ("DeliveryReceiptSid", receipt.sid),
        ("ErrorCode", str(receipt.error_code)),
        ("EventType", "onDeliveryUpdated"),
        ("MessageIndex", str(message.index)),
        ("MessageSid", message.sid),
        ("ParticipantSid", receipt.participant_sid),
        ("RetryCount", "0"),
        ("Status", receipt.status),
        ("WebhookType", "webhook"),
    ]
